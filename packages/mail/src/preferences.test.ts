import { randomBytes, randomUUID } from 'node:crypto';
import { createEnvelopeCipher } from '@gatehouse/crypto';
import { ValidationError } from '@gatehouse/errors';
import { MemoryJobQueue, RedisJobQueue, type JobQueue } from '@gatehouse/jobs';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  startTestSmtpServer,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
  type TestSmtpServer,
} from '@gatehouse/testing';
import { createEmailPreferenceCheck } from './email-preferences';
import { extractLinks } from './links';
import type { MailLogger } from './mail-queue';
import { createMailer, type Mailer } from './mailer';
import { startMailWorker } from './mail-worker';
import { createSmtpTransport } from './smtp-transport';
import type { MailTransport } from './transport';
import { createUnsubscribeTokens } from './unsubscribe-token';

const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const tokens = createUnsubscribeTokens({ secret: randomBytes(32) });
const UNSUBSCRIBE_URL = 'https://id.example.test/unsubscribe';
const redisUrl = redisUrlForTests('@gatehouse/mail preferences');
const news = { headline: 'Passkeys are here', paragraphs: ['Sign in without a password.'] };

interface LogEntry {
  level: string;
  details: Record<string, unknown>;
  message: string;
}

function captureLogger(entries: LogEntry[]): MailLogger {
  const push = (level: string) => (details: object, message: string) =>
    entries.push({ level, details: details as Record<string, unknown>, message });
  return { info: push('info'), warn: push('warn'), error: push('error') };
}

let db: TestDatabase;
let smtp: TestSmtpServer;

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase(), startTestSmtpServer()]);
});
afterAll(async () => {
  await smtp?.close();
  await db?.close();
});

const queues: [string, () => { queue: JobQueue; cleanup: () => Promise<void> }][] = [
  [
    'in-process queue',
    () => ({ queue: new MemoryJobQueue({ logger: captureLogger([]) }), cleanup: async () => {} }),
  ],
];
if (redisUrl) {
  queues.push([
    'BullMQ queue',
    () => {
      const prefix = uniqueTestPrefix();
      return {
        queue: new RedisJobQueue({ redisUrl, prefix, logger: captureLogger([]) }),
        cleanup: () => deleteRedisKeys(redisUrl, prefix),
      };
    },
  ]);
}

describe.each(queues)('preferences in the mail worker (%s)', (_name, makeQueue) => {
  let queue: JobQueue;
  let cleanup: () => Promise<void>;
  let transport: MailTransport;
  let mailer: Mailer;
  const logs: LogEntry[] = [];

  beforeAll(() => {
    ({ queue, cleanup } = makeQueue());
    transport = createSmtpTransport({ url: smtp.url, from: 'Gatehouse <no-reply@gatehouse.test>' });
    mailer = createMailer({ prisma: db.prisma, jobQueue: queue, cipher, backoffMs: 20 });
    startMailWorker({
      prisma: db.prisma,
      jobQueue: queue,
      transport,
      cipher,
      logger: captureLogger(logs),
      unsubscribe: { tokens, url: UNSUBSCRIBE_URL },
    });
  });
  afterAll(async () => {
    await queue.close();
    await transport.close();
    await cleanup();
  });

  async function newUser() {
    const email = `u-${randomBytes(4).toString('hex')}@example.test`;
    const user = await db.prisma.user.create({ data: { email, status: 'ACTIVE' } });
    return { id: user.id, email };
  }

  function setPreference(userId: string, category: string, enabled: boolean) {
    return db.prisma.notificationPreference.upsert({
      where: { userId_channel_category: { userId, channel: 'EMAIL', category } },
      create: { userId, channel: 'EMAIL', category, enabled },
      update: { enabled },
    });
  }

  function settled(deliveryId: string) {
    return waitFor(
      async () => {
        const delivery = await db.prisma.emailDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
        return delivery.status === 'QUEUED' ? undefined : delivery;
      },
      { timeoutMs: 10_000, what: `delivery ${deliveryId} to settle` },
    );
  }

  it('suppresses product mail by default (marketing is opt-in) and when switched off, without SMTP', async () => {
    const user = await newUser();
    const before = smtp.dataCommands;
    const byDefault = await mailer.send({
      to: user.email,
      userId: user.id,
      template: 'product-update',
      data: news,
    });
    expect(await settled(byDefault.deliveryId)).toMatchObject({
      status: 'SUPPRESSED',
      payloadEncrypted: null,
    });

    await setPreference(user.id, 'product', false);
    const off = await mailer.send({
      to: user.email,
      userId: user.id,
      template: 'product-update',
      data: news,
    });
    expect(await settled(off.deliveryId)).toMatchObject({ status: 'SUPPRESSED', attempts: 0, sentAt: null });

    expect(smtp.dataCommands).toBe(before);
    expect(smtp.messages.some((mail) => mail.envelope.to.includes(user.email))).toBe(false);
    expect(logs).toContainEqual({
      level: 'info',
      details: expect.objectContaining({ deliveryId: off.deliveryId, category: 'product' }),
      message: 'mail: suppressed, category switched off',
    });
  });

  it('sends security mail even with every optional category off, with no unsubscribe link', async () => {
    const user = await newUser();
    await setPreference(user.id, 'product', false);
    await setPreference(user.id, 'billing', false);
    // A row for a locked category (written by hand: the service never does) changes nothing either.
    await setPreference(user.id, 'security', false);
    const { deliveryId } = await mailer.send({
      to: user.email,
      userId: user.id,
      template: 'new-sign-in',
      data: { device: 'Firefox on Linux', at: new Date() },
    });
    const mail = await smtp.waitForMail((m) => m.envelope.to.includes(user.email), { timeoutMs: 10_000 });
    expect((await settled(deliveryId)).status).toBe('SENT');
    expect(mail.headers.has('list-unsubscribe')).toBe(false);
    expect(mail.headers.has('list-unsubscribe-post')).toBe(false);
    expect(mail.text).not.toContain('unsubscribe');
  });

  it('sends opted-in product mail with RFC 8058 headers and the same signed link in the footer', async () => {
    const user = await newUser();
    await setPreference(user.id, 'product', true);
    const { deliveryId } = await mailer.send({
      to: user.email,
      userId: user.id,
      template: 'product-update',
      data: news,
    });
    const mail = await smtp.waitForMail((m) => m.envelope.to.includes(user.email), { timeoutMs: 10_000 });
    expect((await settled(deliveryId)).status).toBe('SENT');

    const link = extractLinks(mail.text).at(-1) ?? '';
    expect(link.startsWith(`${UNSUBSCRIBE_URL}?token=`)).toBe(true);
    expect(mail.html).toContain(`href="${link}"`);
    // The raw headers, unfolded, as a mail provider reads them.
    const raw = mail.raw.split(/\r?\n\r?\n/, 1)[0]?.replace(/\r?\n[ \t]+/g, ' ') ?? '';
    expect(raw).toMatch(
      new RegExp(`^List-Unsubscribe: <${link.replace(/[.?*+^$()[\]{}|\\]/g, '\\$&')}>$`, 'm'),
    );
    expect(raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);

    const check = tokens.verify(new URL(link).searchParams.get('token') ?? '');
    expect(check).toEqual({
      ok: true,
      claims: expect.objectContaining({ userId: user.id, channel: 'EMAIL', category: 'product' }),
    });
  });
});

describe('createEmailPreferenceCheck', () => {
  it('answers with the stored choice, else the default; locked categories always yes', async () => {
    const user = await db.prisma.user.create({ data: { email: 'check@example.test', status: 'ACTIVE' } });
    const accepts = createEmailPreferenceCheck(db.prisma);
    expect(await accepts(user.id, 'billing')).toBe(true);
    expect(await accepts(user.id, 'product')).toBe(false);
    await db.prisma.notificationPreference.createMany({
      data: [
        { userId: user.id, channel: 'EMAIL', category: 'billing', enabled: false },
        { userId: user.id, channel: 'EMAIL', category: 'product', enabled: true },
        { userId: user.id, channel: 'EMAIL', category: 'security', enabled: false },
        // Another channel's choice does not decide mail.
        { userId: user.id, channel: 'SMS', category: 'account', enabled: false },
      ],
    });
    expect(await accepts(user.id, 'billing')).toBe(false);
    expect(await accepts(user.id, 'product')).toBe(true);
    expect(await accepts(user.id, 'security')).toBe(true);
    expect(await accepts(user.id, 'account')).toBe(true);
  });
});

describe('the mailer and optional categories', () => {
  it('refuses product mail without a user: preferences and unsubscribe links belong to an account', async () => {
    const mailer = createMailer({ prisma: db.prisma, jobQueue: new MemoryJobQueue(), cipher });
    const sending = mailer.send({ to: 'x@example.test', template: 'product-update', data: news });
    await expect(sending).rejects.toBeInstanceOf(ValidationError);
    await expect(sending).rejects.toMatchObject({ details: [{ path: 'userId' }] });
    expect(await db.prisma.emailDelivery.count({ where: { recipient: 'x@example.test' } })).toBe(0);
  });

  it('without unsubscribe configuration the worker warns at start', () => {
    const logs: LogEntry[] = [];
    const queue = new MemoryJobQueue();
    startMailWorker({
      prisma: db.prisma,
      jobQueue: queue,
      transport: { send: async () => ({ messageId: randomUUID() }), close: async () => {} },
      cipher,
      logger: captureLogger(logs),
    });
    expect(logs.map((entry) => entry.level)).toEqual(['warn']);
    return queue.close();
  });
});
