import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { createEnvelopeCipher } from '@gatehouse/crypto';
import { ValidationError } from '@gatehouse/errors';
import { MemoryJobQueue } from '@gatehouse/jobs';
import {
  createTestDatabase,
  startTestSmtpServer,
  waitFor,
  type TestDatabase,
  type TestSmtpServer,
} from '@gatehouse/testing';
import type { LoadAttachment } from './attachments';
import type { MailLogger } from './mail-queue';
import { startMailWorker } from './mail-worker';
import { createMailer, type Mailer } from './mailer';
import { createOutboxTransport, type OutboxEntry } from './outbox-transport';
import { renderMail } from './render';
import { createSmtpTransport } from './smtp-transport';
import type { MailTransport } from './transport';

const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const quiet: MailLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const FROM = 'Gatehouse <billing@gatehouse.test>';
const PDF = Buffer.concat([Buffer.from('%PDF-1.3\n'), randomBytes(2048), Buffer.from('\n%%EOF\n')]);
const invoiceData = {
  name: 'Ada',
  number: 'GH-2026-000042',
  total: 'EUR 34.51',
  paidAt: '2026-11-28T17:05:00.000Z',
  downloadUrl: 'https://app.example.com/billing/invoices/42',
};
const attachment = {
  filename: 'GH-2026-000042.pdf',
  contentType: 'application/pdf',
  storageKey: 'invoices/u1/i42.pdf',
};

let db: TestDatabase;
let smtp: TestSmtpServer;
let transport: MailTransport;
let userId: string;
const queues: MemoryJobQueue[] = [];

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase(), startTestSmtpServer()]);
  transport = createSmtpTransport({ url: smtp.url, from: FROM });
  userId = (await db.prisma.user.create({ data: { email: 'ada@example.com' } })).id;
});
afterAll(async () => {
  await Promise.all(queues.map((queue) => queue.close()));
  await transport?.close();
  await smtp?.close();
  await db?.close();
});

function harness(loadAttachment?: LoadAttachment): Mailer {
  const queue = new MemoryJobQueue({ logger: { warn: () => undefined, error: () => undefined } });
  queues.push(queue);
  startMailWorker({
    prisma: db.prisma,
    jobQueue: queue,
    transport,
    cipher,
    logger: quiet,
    ...(loadAttachment ? { loadAttachment } : {}),
  });
  return createMailer({
    prisma: db.prisma,
    jobQueue: queue,
    cipher,
    logger: quiet,
    attempts: 2,
    backoffMs: 1,
  });
}

async function status(deliveryId: string): Promise<{ status: string; last_error: string | null }> {
  const { rows } = await db.pool.query('SELECT status, last_error FROM email_deliveries WHERE id = $1', [
    deliveryId,
  ]);
  return rows[0] as { status: string; last_error: string | null };
}

describe('mail attachments', () => {
  it('loads the attachment by storage key and sends it over SMTP', async () => {
    const loaded: string[] = [];
    const mailer = harness(async (key) => {
      loaded.push(key);
      return PDF;
    });
    const to = `ada-${randomBytes(3).toString('hex')}@example.com`;
    const { deliveryId } = await mailer.send({
      to,
      template: 'invoice',
      data: invoiceData,
      userId,
      attachments: [attachment],
    });
    const captured = await smtp.waitForMail((mail) => mail.to.includes(to));
    const parsed = await simpleParser(captured.raw);
    expect(parsed.subject).toBe('Your Gatehouse invoice GH-2026-000042');
    expect(parsed.text).toContain('EUR 34.51');
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]?.filename).toBe('GH-2026-000042.pdf');
    expect(parsed.attachments[0]?.contentType).toBe('application/pdf');
    expect(Buffer.compare(parsed.attachments[0]!.content, PDF)).toBe(0);
    expect(loaded).toEqual([attachment.storageKey]);
    await waitFor(async () => (await status(deliveryId)).status === 'SENT');
  });

  it('leaves mail without attachments as it was', async () => {
    const mailer = harness();
    const to = `bob-${randomBytes(3).toString('hex')}@example.com`;
    await mailer.send({ to, template: 'invoice', data: invoiceData, userId });
    const parsed = await simpleParser((await smtp.waitForMail((mail) => mail.to.includes(to))).raw);
    expect(parsed.attachments).toHaveLength(0);
  });

  it('retries when the attachment cannot be loaded, then fails the delivery', async () => {
    let calls = 0;
    const mailer = harness(async () => {
      calls += 1;
      throw new Error('object missing');
    });
    const to = `carol-${randomBytes(3).toString('hex')}@example.com`;
    const before = smtp.dataCommands;
    const { deliveryId } = await mailer.send({
      to,
      template: 'invoice',
      data: invoiceData,
      userId,
      attachments: [attachment],
    });
    await waitFor(async () => (await status(deliveryId)).status === 'FAILED');
    expect(calls).toBe(2);
    expect((await status(deliveryId)).last_error).toBe('attachment could not be loaded');
    expect(smtp.dataCommands).toBe(before);
  });

  it('fails for good when the worker has no loadAttachment', async () => {
    const mailer = harness();
    const { deliveryId } = await mailer.send({
      to: 'dave@example.com',
      template: 'invoice',
      data: invoiceData,
      userId,
      attachments: [attachment],
    });
    await waitFor(async () => (await status(deliveryId)).status === 'FAILED');
    expect((await status(deliveryId)).last_error).toMatch(/no loadAttachment/);
  });

  it('refuses unsafe file names and storage keys', async () => {
    const mailer = harness(async () => PDF);
    for (const bad of [
      { ...attachment, filename: '../../etc/passwd' },
      { ...attachment, filename: 'a\r\nBcc: x@example.com' },
      { ...attachment, storageKey: '/abs/key.pdf' },
      { ...attachment, contentType: 'application/pdf\r\nX: y' },
    ]) {
      await expect(
        mailer.send({
          to: 'eve@example.com',
          template: 'invoice',
          data: invoiceData,
          userId,
          attachments: [bad],
        }),
      ).rejects.toBeInstanceOf(ValidationError);
    }
  });
});

describe('outbox transport with attachments', () => {
  it('writes each attachment next to the message and lists it in the summary', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-outbox-att-'));
    try {
      const outbox = createOutboxTransport({ dir, from: FROM });
      const rendered = renderMail('invoice', invoiceData);
      await outbox.send({
        to: 'ada@example.com',
        ...rendered,
        attachments: [{ filename: attachment.filename, contentType: attachment.contentType, content: PDF }],
      });
      const files = (await readdir(dir)).sort();
      const json = files.find((file) => file.endsWith('.json'))!;
      const entry = JSON.parse(await readFile(path.join(dir, json), 'utf8')) as OutboxEntry;
      expect(entry.attachments).toEqual([
        {
          filename: attachment.filename,
          contentType: 'application/pdf',
          size: PDF.length,
          file: expect.stringMatching(/-1-GH-2026-000042\.pdf$/),
        },
      ]);
      expect(Buffer.compare(await readFile(path.join(dir, entry.attachments![0]!.file)), PDF)).toBe(0);
      const eml = await simpleParser(await readFile(path.join(dir, entry.eml)));
      expect(eml.attachments.map((a) => a.filename)).toEqual([attachment.filename]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('billing templates', () => {
  it('payment-failed names the next retry, or says the attempt was final', () => {
    const base = {
      amount: 'EUR 29.00',
      attempt: 2,
      updatePaymentUrl: 'https://app.example.com/billing/payment-methods',
    };
    const retry = renderMail('payment-failed', { ...base, nextAttemptAt: '2026-12-04T09:00:00.000Z' });
    expect(retry.text).toContain('4 Dec 2026, 09:00 UTC');
    expect(retry.text).toContain('EUR 29.00');
    const final = renderMail('payment-failed', { ...base, attempt: 4, nextAttemptAt: null });
    expect(final.subject).toMatch(/Final payment attempt failed/);
    expect(final.text).toContain('final attempt');
    expect(final.text).not.toContain('We will try again');
  });

  it('subscription-canceled says until when access lasts', () => {
    const mail = renderMail('subscription-canceled', {
      planName: 'Pro',
      accessUntil: new Date('2026-12-31T00:00:00Z'),
    });
    expect(mail.text).toContain('31 Dec 2026, 00:00 UTC');
    expect(mail.text).toContain('Pro');
  });
});
