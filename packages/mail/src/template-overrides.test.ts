// Issue #6: administrators override the subject and intro of a template (`email.templates.<name>` settings); the
// worker looks the override up for every mail. Real PostgreSQL and a local SMTP server.
import { randomBytes } from 'node:crypto';
import { createEnvelopeCipher } from '@gatehouse/crypto';
import { MemoryJobQueue } from '@gatehouse/jobs';
import {
  createTestDatabase,
  startTestSmtpServer,
  waitFor,
  type TestDatabase,
  type TestSmtpServer,
} from '@gatehouse/testing';
import type { MailLogger } from './mail-queue';
import { createMailer, type Mailer } from './mailer';
import { startMailWorker } from './mail-worker';
import { renderMail, type MailTemplateOverride } from './render';
import { createSmtpTransport } from './smtp-transport';
import type { MailTemplateName } from './templates';
import type { MailTransport } from './transport';

describe('renderMail with an override', () => {
  const data = { name: 'Ada', verifyUrl: 'https://id.example.com/verify?token=abc', expiresInHours: 24 };

  it('replaces the subject and the first paragraph after the greeting, keeping the link', () => {
    const plain = renderMail('verify-email', data);
    const mail = renderMail('verify-email', data, {
      override: { subject: 'Confirm   your\naddress', intro: 'Welcome aboard <friend> & co.' },
    });
    expect(mail.subject).toBe('Confirm your address');
    expect(mail.text).toContain('Hi Ada,\n\nWelcome aboard <friend> & co.\n\n');
    expect(mail.html).toContain('Welcome aboard &lt;friend&gt; &amp; co.');
    expect(mail.html).toContain('<title>Confirm your address</title>');
    // Only the intro changed: the greeting, the button and everything after it are the template's.
    const paragraphs = (text: string) => text.split('\n\n');
    expect(paragraphs(mail.text).length).toBe(paragraphs(plain.text).length);
    expect(paragraphs(mail.text).filter((p, i) => p !== paragraphs(plain.text)[i])).toEqual([
      'Welcome aboard <friend> & co.',
    ]);
    expect(mail.text).toContain(data.verifyUrl);
  });

  it('keeps the template copy for missing or blank parts', () => {
    const plain = renderMail('verify-email', data);
    expect(renderMail('verify-email', data, { override: {} })).toEqual(plain);
    expect(renderMail('verify-email', data, { override: { subject: '  ', intro: '' } })).toEqual(plain);
    const introOnly = renderMail('verify-email', data, { override: { intro: 'Just one click.' } });
    expect(introOnly.subject).toBe(plain.subject);
    expect(introOnly.text).toContain('Just one click.');
  });
});

describe('the mail worker with template overrides', () => {
  const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
  const silent: MailLogger = { info: () => {}, warn: () => {}, error: () => {} };
  let db: TestDatabase;
  let smtp: TestSmtpServer;
  let queue: MemoryJobQueue;
  let transport: MailTransport;
  let mailer: Mailer;
  const overrides = new Map<MailTemplateName, MailTemplateOverride | Error>();
  const lookups: MailTemplateName[] = [];

  beforeAll(async () => {
    [db, smtp] = await Promise.all([createTestDatabase(), startTestSmtpServer()]);
    queue = new MemoryJobQueue({ logger: silent });
    transport = createSmtpTransport({ url: smtp.url, from: 'Gatehouse <no-reply@gatehouse.test>' });
    mailer = createMailer({ prisma: db.prisma, jobQueue: queue, cipher });
    startMailWorker({
      prisma: db.prisma,
      jobQueue: queue,
      transport,
      cipher,
      logger: silent,
      templateOverrides: async (template) => {
        lookups.push(template);
        const override = overrides.get(template);
        if (override instanceof Error) throw override;
        return override;
      },
    });
  });
  afterAll(async () => {
    await queue?.close();
    await transport?.close();
    await smtp?.close();
    await db?.close();
  });

  const recipient = () => `user-${randomBytes(4).toString('hex')}@example.com`;

  async function sendLocked(to: string) {
    const { deliveryId } = await mailer.send({
      to,
      template: 'account-locked',
      data: { name: 'Ada', lockedUntil: new Date('2030-01-01T10:00:00Z') },
    });
    const mail = await smtp.waitForMail((m) => m.envelope.to.includes(to), { timeoutMs: 10_000 });
    const delivery = await waitFor(
      async () => {
        const row = await db.prisma.emailDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
        return row.status === 'QUEUED' ? undefined : row;
      },
      { timeoutMs: 10_000, what: 'the delivery to settle' },
    );
    return { mail, delivery };
  }

  it('applies the override current when the mail is rendered, and records the subject that went out', async () => {
    const before = await sendLocked(recipient());
    expect(before.mail.subject).toBe('Your Gatehouse account is temporarily locked');

    overrides.set('account-locked', { subject: 'Security notice', intro: 'We paused sign-ins for you.' });
    const to = recipient();
    const { mail, delivery } = await sendLocked(to);
    expect(mail.subject).toBe('Security notice');
    expect(mail.text).toContain('We paused sign-ins for you.');
    expect(delivery).toMatchObject({ status: 'SENT', subject: 'Security notice' });
    expect(lookups.filter((name) => name === 'account-locked')).toHaveLength(2);
  });

  it('sends the template copy when the override lookup fails', async () => {
    overrides.set('account-locked', new Error('settings store down'));
    const { mail, delivery } = await sendLocked(recipient());
    expect(mail.subject).toBe('Your Gatehouse account is temporarily locked');
    expect(delivery.status).toBe('SENT');
  });
});
