import { randomBytes } from 'node:crypto';
import { createEnvelopeCipher, generateToken } from '@gatehouse/crypto';
import { ValidationError } from '@gatehouse/errors';
import { MemoryJobQueue, RedisJobQueue, type JobQueue } from '@gatehouse/jobs';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
} from '@gatehouse/testing';
import { MAIL_SEND_JOB, type MailLogger, type MailSendJob } from './mail-queue';
import { createMailer, type Mailer } from './mailer';
import { startMailWorker } from './mail-worker';
import { startStaleDeliverySweep } from './stale-sweep';
import { createSmtpTransport } from './smtp-transport';
import { startTestSmtpServer, type TestSmtpServer } from '@gatehouse/testing';
import { extractLinks } from './links';
import type { MailTransport } from './transport';

const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const redisUrl = redisUrlForTests('@gatehouse/mail mailer');
const ATTEMPTS = 3;

interface LogEntry {
  level: 'info' | 'warn' | 'error';
  details: Record<string, unknown>;
  message: string;
}

function captureLogger(entries: LogEntry[]): MailLogger {
  const push = (level: LogEntry['level']) => (details: object, message: string) =>
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

async function deliveryRow(id: string) {
  const { rows } = await db.pool.query('SELECT * FROM email_deliveries WHERE id = $1', [id]);
  return rows[0] as Record<string, unknown>;
}

function verifyLink(): { token: string; url: string } {
  const token = generateToken();
  return { token, url: `https://id.example.com/verify-email?token=${token}` };
}

let recipientCounter = 0;
/** A fresh recipient per test, so captured mail is told apart. */
function recipient(): string {
  recipientCounter += 1;
  return `user${recipientCounter}-${randomBytes(3).toString('hex')}@example.com`;
}

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

describe.each(queues)('mail through the %s', (_name, makeQueue) => {
  let queue: JobQueue;
  let cleanup: () => Promise<void>;
  let transport: MailTransport;
  let mailer: Mailer;
  const logs: LogEntry[] = [];

  beforeAll(() => {
    ({ queue, cleanup } = makeQueue());
    transport = createSmtpTransport({ url: smtp.url, from: 'Gatehouse <no-reply@gatehouse.test>' });
    mailer = createMailer({ prisma: db.prisma, jobQueue: queue, cipher, attempts: ATTEMPTS, backoffMs: 20 });
    startMailWorker({
      prisma: db.prisma,
      jobQueue: queue,
      transport,
      cipher,
      logger: captureLogger(logs),
      concurrency: 2,
    });
  });
  afterAll(async () => {
    await queue.close();
    await transport.close();
    await cleanup();
  });
  afterEach(() => smtp.failAllData(undefined));

  async function settled(deliveryId: string) {
    return waitFor(
      async () => {
        const delivery = await db.prisma.emailDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
        return delivery.status === 'QUEUED' ? undefined : delivery;
      },
      { timeoutMs: 10_000, what: `delivery ${deliveryId} to settle` },
    );
  }

  it('delivers a verification mail whose link is the one passed in', async () => {
    const to = recipient();
    const { token, url } = verifyLink();
    const { deliveryId, status, created } = await mailer.send({
      to,
      template: 'verify-email',
      data: { name: 'Ada', verifyUrl: url, expiresInHours: 24 },
    });
    expect({ status, created }).toEqual({ status: 'QUEUED', created: true });

    const mail = await smtp.waitForMail((m) => m.envelope.to.includes(to), { timeoutMs: 10_000 });
    expect(mail.subject).toBe('Verify your email address for Gatehouse');
    expect(mail.text).toContain('Hi Ada,');
    expect(extractLinks(mail.text)).toEqual([url]);
    expect(new URL(extractLinks(mail.text)[0] ?? '').searchParams.get('token')).toBe(token);
    expect(mail.html).toContain(`href="${url}"`);
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.headers.get('x-gatehouse-delivery-id')).toBe(deliveryId);

    const delivery = await settled(deliveryId);
    expect(delivery).toMatchObject({
      status: 'SENT',
      attempts: 1,
      recipient: to,
      template: 'verify-email',
      subject: mail.subject,
      providerMessageId: mail.messageId,
      payloadEncrypted: null,
      lastError: null,
    });
    expect(delivery.sentAt).toBeInstanceOf(Date);
  });

  it('retries a temporary failure (451 to DATA) and records both attempts', async () => {
    const to = recipient();
    smtp.failNextData(1, { code: 451, message: 'Greylisted, try again later' });
    const { deliveryId } = await mailer.send({
      to,
      template: 'password-reset',
      data: { resetUrl: verifyLink().url, expiresInMinutes: 30 },
    });

    const delivery = await settled(deliveryId);
    expect(delivery).toMatchObject({ status: 'SENT', attempts: 2, payloadEncrypted: null });
    expect(delivery.lastError).toMatch(/^EMESSAGE: 451 /);
    expect(smtp.messages.filter((m) => m.envelope.to.includes(to))).toHaveLength(1);
  });

  it('marks a delivery FAILED after its last attempt and drops the payload', async () => {
    const to = recipient();
    const before = smtp.dataCommands;
    smtp.failAllData({ code: 421, message: 'Service not available' });
    const { deliveryId } = await mailer.send({ to, template: 'welcome', data: {} });

    const delivery = await settled(deliveryId);
    expect(delivery).toMatchObject({
      status: 'FAILED',
      attempts: ATTEMPTS,
      payloadEncrypted: null,
      sentAt: null,
    });
    expect(delivery.lastError).toMatch(/421 Service not available/);
    expect(smtp.dataCommands - before).toBe(ATTEMPTS);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'mail: delivery FAILED',
        details: expect.objectContaining({ deliveryId }),
      }),
    );
  });

  it('gives up at once when the server refuses the mail for good (5xx)', async () => {
    const before = smtp.dataCommands;
    smtp.failAllData({ code: 550, message: 'Mailbox unavailable' });
    const { deliveryId } = await mailer.send({ to: recipient(), template: 'welcome', data: {} });

    const delivery = await settled(deliveryId);
    expect(delivery).toMatchObject({ status: 'FAILED', attempts: 1, payloadEncrypted: null });
    expect(smtp.dataCommands - before).toBe(1);
  });

  it('sends one mail per idempotency key', async () => {
    const to = recipient();
    const key = `verify-email:${randomBytes(8).toString('hex')}`;
    const input = {
      to,
      template: 'verify-email' as const,
      data: { verifyUrl: verifyLink().url, expiresInHours: 24 },
      idempotencyKey: key,
    };
    const [first, concurrent] = await Promise.all([mailer.send(input), mailer.send(input)]);
    expect(concurrent.deliveryId).toBe(first.deliveryId);
    expect([first.created, concurrent.created].sort()).toEqual([false, true]);
    await settled(first.deliveryId);

    const again = await mailer.send(input);
    expect(again).toEqual({ deliveryId: first.deliveryId, status: 'SENT', created: false });

    // A later mail to the same address arriving proves nothing else was queued before it.
    await mailer.send({ to, template: 'welcome', data: {} });
    await smtp.waitForMail((m) => m.envelope.to.includes(to) && m.subject === 'Welcome to Gatehouse');
    expect(
      smtp.messages.filter((m) => m.envelope.to.includes(to) && m.subject.startsWith('Verify')),
    ).toHaveLength(1);
    expect(await db.prisma.emailDelivery.count({ where: { idempotencyKey: key } })).toBe(1);
  });

  it('skips a delivery that was already sent when its job comes again', async () => {
    const to = recipient();
    const { deliveryId } = await mailer.send({ to, template: 'welcome', data: { name: 'Lin' } });
    await settled(deliveryId);
    const sentBefore = smtp.messages.length;

    // A redelivery, as after a worker crash between sending and acknowledging the job.
    await queue.enqueue<MailSendJob>(MAIL_SEND_JOB, { deliveryId, attempts: 1 });
    await waitFor(
      () =>
        logs.find(
          (entry) =>
            entry.message === 'mail: delivery already settled, job skipped' &&
            entry.details.deliveryId === deliveryId,
        ),
      { timeoutMs: 5000, what: 'the skipped redelivery' },
    );
    expect(smtp.messages.length).toBe(sentBefore);
    expect(await db.prisma.emailDelivery.findUniqueOrThrow({ where: { id: deliveryId } })).toMatchObject({
      status: 'SENT',
      attempts: 1,
    });
  });
});

describe('mail at rest and without a queue', () => {
  it('stores the template data encrypted, bound to its row', async () => {
    const idle = new MemoryJobQueue({ logger: captureLogger([]) }); // no worker: the row stays QUEUED
    try {
      const mailer = createMailer({ prisma: db.prisma, jobQueue: idle, cipher });
      const { token, url } = verifyLink();
      const { deliveryId } = await mailer.send({
        to: recipient(),
        template: 'verify-email',
        data: { verifyUrl: url, expiresInHours: 24 },
      });

      const row = await deliveryRow(deliveryId);
      expect(row.status).toBe('QUEUED');
      expect(typeof row.payload_encrypted).toBe('string');
      expect(JSON.stringify(row)).not.toContain(token);
      const data = JSON.parse(cipher.decrypt(row.payload_encrypted as string, deliveryId).toString('utf8'));
      expect(data).toEqual({ verifyUrl: url, expiresInHours: 24 });
      // Copied into another row, the envelope does not open.
      expect(() =>
        cipher.decrypt(row.payload_encrypted as string, '00000000-0000-4000-8000-000000000000'),
      ).toThrow();
    } finally {
      await idle.close();
    }
  });

  it('keeps a delivery whose enqueue failed and sends it from requeueStale', async () => {
    const broken: JobQueue = {
      enqueue: () => Promise.reject(new Error('redis is down')),
      process: () => undefined,
      failedJobs: async () => [],
      depths: () => Promise.reject(new Error('redis is down')),
      ping: () => Promise.reject(new Error('redis is down')),
      close: async () => undefined,
    };
    const logs: LogEntry[] = [];
    const to = recipient();
    const { deliveryId, status } = await createMailer({
      prisma: db.prisma,
      jobQueue: broken,
      cipher,
      logger: captureLogger(logs),
    }).send({ to, template: 'welcome', data: {} });
    expect(status).toBe('QUEUED');
    expect(logs.map((entry) => entry.message)).toEqual([
      'mail: enqueue failed, delivery left QUEUED for requeueStale',
    ]);

    const queue = new MemoryJobQueue({ logger: captureLogger([]) });
    const transport = createSmtpTransport({ url: smtp.url, from: 'no-reply@gatehouse.test' });
    try {
      const mailer = createMailer({ prisma: db.prisma, jobQueue: queue, cipher, backoffMs: 20 });
      // Not stale yet: a young QUEUED delivery may still be on its way through the queue.
      expect(await mailer.requeueStale({ olderThanMs: 60_000 })).toEqual({ requeued: 0 });
      const { requeued } = await mailer.requeueStale({ olderThanMs: 0 });
      expect(requeued).toBeGreaterThanOrEqual(1);
      // Running the sweep twice queues nothing twice: the job id is the delivery id.
      await mailer.requeueStale({ olderThanMs: 0 });
      startMailWorker({ prisma: db.prisma, jobQueue: queue, transport, cipher, logger: captureLogger([]) });

      await smtp.waitForMail((m) => m.envelope.to.includes(to), { timeoutMs: 10_000 });
      await waitFor(async () => (await deliveryRow(deliveryId)).status === 'SENT', { timeoutMs: 5000 });
      expect(smtp.messages.filter((m) => m.envelope.to.includes(to))).toHaveLength(1);
    } finally {
      await queue.close();
      await transport.close();
    }
  });

  it('the stale-delivery sweep sends, on its own timer, a delivery whose enqueue failed', async () => {
    const broken: JobQueue = {
      enqueue: () => Promise.reject(new Error('redis is down')),
      process: () => undefined,
      failedJobs: async () => [],
      depths: () => Promise.reject(new Error('redis is down')),
      ping: () => Promise.reject(new Error('redis is down')),
      close: async () => undefined,
    };
    const to = recipient();
    const { deliveryId } = await createMailer({
      prisma: db.prisma,
      jobQueue: broken,
      cipher,
      logger: captureLogger([]),
    }).send({ to, template: 'welcome', data: {} });

    const queue = new MemoryJobQueue({ logger: captureLogger([]) });
    const transport = createSmtpTransport({ url: smtp.url, from: 'no-reply@gatehouse.test' });
    const logs: LogEntry[] = [];
    const mailer = createMailer({ prisma: db.prisma, jobQueue: queue, cipher, backoffMs: 20 });
    startMailWorker({ prisma: db.prisma, jobQueue: queue, transport, cipher, logger: captureLogger([]) });
    const stop = startStaleDeliverySweep({
      mailer,
      logger: captureLogger(logs),
      intervalMs: 50,
      requeueAfterMs: 0,
    });
    try {
      await waitFor(async () => (await deliveryRow(deliveryId)).status === 'SENT', { timeoutMs: 10_000 });
      expect(smtp.messages.filter((m) => m.envelope.to.includes(to))).toHaveLength(1);
      expect(logs).toContainEqual(
        expect.objectContaining({ level: 'warn', message: 'mail: re-queued stale deliveries' }),
      );
    } finally {
      await stop();
      await queue.close();
      await transport.close();
    }
  });

  it('validates the address and the template data before storing anything', async () => {
    const mailer = createMailer({ prisma: db.prisma, jobQueue: new MemoryJobQueue(), cipher });
    const before = await db.prisma.emailDelivery.count();
    await expect(mailer.send({ to: 'not-an-address', template: 'welcome', data: {} })).rejects.toThrow(
      ValidationError,
    );
    await expect(
      mailer.send({
        to: recipient(),
        template: 'verify-email',
        data: { verifyUrl: 'javascript:alert(1)', expiresInHours: 24 },
      }),
    ).rejects.toThrow(ValidationError);
    expect(await db.prisma.emailDelivery.count()).toBe(before);
  });

  it('links a delivery to its user and keeps it when the user is deleted', async () => {
    const user = await db.prisma.user.create({ data: { email: recipient() } });
    const idle = new MemoryJobQueue();
    try {
      const { deliveryId } = await createMailer({ prisma: db.prisma, jobQueue: idle, cipher }).send({
        to: user.email,
        userId: user.id,
        template: 'welcome',
        data: {},
      });
      expect((await deliveryRow(deliveryId)).user_id).toBe(user.id);
      await db.prisma.user.delete({ where: { id: user.id } });
      expect((await deliveryRow(deliveryId)).user_id).toBeNull();
    } finally {
      await idle.close();
    }
  });
});
