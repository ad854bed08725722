import { randomBytes } from 'node:crypto';
import { createEnvelopeCipher } from '@gatehouse/crypto';
import { MemoryJobQueue, RedisJobQueue, type JobQueue } from '@gatehouse/jobs';
import { createLogger } from '@gatehouse/logger';
import {
  createMailer,
  createSmtpTransport,
  createUnsubscribeTokens,
  extractLinks,
  startMailWorker,
  type Mailer,
  type MailTransport,
  type UnsubscribeTokens,
} from '@gatehouse/mail';
import { startHttpService, type HttpService } from '@gatehouse/service';
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
import { PreferenceErrorCode } from './error-codes';
import { createPreferenceRepository } from './preference.repository';
import { createPreferenceService } from './preference.service';
import { createUnsubscribeRoutes, UNSUBSCRIBE_PATH } from './unsubscribe.routes';

const logger = createLogger({ name: 'unsubscribe-routes-test', level: 'silent' });
const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const secret = randomBytes(32);
const redisUrl = redisUrlForTests('@gatehouse/subgraph-account unsubscribe');
const news = { headline: 'Passkeys are here', paragraphs: ['Sign in without a password.'] };
const ONE_CLICK = { 'content-type': 'application/x-www-form-urlencoded' };

/** The clock the server's token check reads; tests move it. */
let now = new Date();
const serverTokens: UnsubscribeTokens = createUnsubscribeTokens({ secret, now: () => now });

let db: TestDatabase;
let smtp: TestSmtpServer;
let server: HttpService;
let queue: JobQueue;
let cleanupQueue: () => Promise<void> = async () => {};
let transport: MailTransport;
let mailer: Mailer;
const changed: string[] = [];

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase(), startTestSmtpServer()]);
  if (redisUrl) {
    const prefix = uniqueTestPrefix();
    queue = new RedisJobQueue({ redisUrl, prefix, logger });
    cleanupQueue = () => deleteRedisKeys(redisUrl, prefix);
  } else {
    queue = new MemoryJobQueue({ logger });
  }
  server = await startHttpService({
    name: 'unsubscribe-test',
    host: '127.0.0.1',
    port: 0,
    logger,
    readinessChecks: {},
    routes: createUnsubscribeRoutes({
      preferences: createPreferenceRepository(db.prisma),
      tokens: serverTokens,
      logger,
      onChange: async (userId) => void changed.push(userId),
    }),
  });
  transport = createSmtpTransport({ url: smtp.url, from: 'Gatehouse <no-reply@gatehouse.test>' });
  mailer = createMailer({ prisma: db.prisma, jobQueue: queue, cipher, logger });
  startMailWorker({
    prisma: db.prisma,
    jobQueue: queue,
    transport,
    cipher,
    logger,
    // The worker mints with the real clock; only the server's check is moved.
    unsubscribe: { tokens: createUnsubscribeTokens({ secret }), url: `${server.url}${UNSUBSCRIBE_PATH}` },
  });
});

afterAll(async () => {
  await queue?.close();
  await transport?.close();
  await server?.stop();
  await cleanupQueue();
  await smtp?.close();
  await db?.close();
});

beforeEach(() => {
  now = new Date();
});

let counter = 0;
async function optedInUser(): Promise<{ id: string; email: string }> {
  counter += 1;
  const email = `unsub${counter}-${randomBytes(3).toString('hex')}@example.test`;
  const { id } = await db.prisma.user.create({ data: { email, status: 'ACTIVE' } });
  await createPreferenceService(createPreferenceRepository(db.prisma)).update(id, [
    { channel: 'EMAIL', category: 'product', enabled: true },
  ]);
  return { id, email };
}

/** Sends a product mail through the worker and SMTP and returns the unsubscribe link found in the mail. */
async function mailedLink(user: { id: string; email: string }): Promise<string> {
  const { deliveryId } = await mailer.send({
    to: user.email,
    userId: user.id,
    template: 'product-update',
    data: news,
  });
  const mail = await smtp.waitForMail(
    (m) => m.envelope.to.includes(user.email) && m.headers.get('x-gatehouse-delivery-id') === deliveryId,
    { timeoutMs: 10_000 },
  );
  const header = String(mail.raw.match(/^List-Unsubscribe:\s*<([^>]+)>/im)?.[1] ?? '');
  const footer = extractLinks(mail.text).at(-1);
  expect(header).toBe(footer);
  expect(mail.raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
  return header;
}

function productPreference(userId: string) {
  return db.prisma.notificationPreference.findUniqueOrThrow({
    where: { userId_channel_category: { userId, channel: 'EMAIL', category: 'product' } },
    select: { enabled: true },
  });
}

function oneClick(link: string, headers: Record<string, string> = {}) {
  return fetch(link, {
    method: 'POST',
    headers: { ...ONE_CLICK, ...headers },
    body: 'List-Unsubscribe=One-Click',
  });
}

describe('one-click unsubscribe over HTTP', () => {
  it('unsubscribes with the link of a captured mail (RFC 8058 POST), once', async () => {
    const user = await optedInUser();
    const link = await mailedLink(user);

    const response = await oneClick(link);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await response.json()).toEqual({ status: 'unsubscribed', channel: 'EMAIL', category: 'product' });

    expect(await productPreference(user.id)).toEqual({ enabled: false });
    const token = new URL(link).searchParams.get('token') ?? '';
    const check = serverTokens.verify(token);
    if (!check.ok) throw new Error('the mailed token does not verify');
    expect(
      await db.prisma.unsubscribeReceipt.findUniqueOrThrow({ where: { id: check.claims.jti } }),
    ).toMatchObject({ userId: user.id, channel: 'EMAIL', category: 'product' });
    expect(changed).toContain(user.id);

    // The link works once: reuse is 410, as JSON and as HTML.
    const reused = await oneClick(link);
    expect(reused.status).toBe(410);
    expect(await reused.json()).toEqual({
      error: PreferenceErrorCode.UNSUBSCRIBE_LINK_USED,
      message: expect.any(String),
    });
    const reusedInBrowser = await oneClick(link, { accept: 'text/html' });
    expect(reusedInBrowser.status).toBe(410);
    expect(reusedInBrowser.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await reusedInBrowser.text()).toContain('UNSUBSCRIBE_LINK_USED');
    expect(await db.prisma.unsubscribeReceipt.count({ where: { userId: user.id } })).toBe(1);

    // The next product mail is suppressed.
    const { deliveryId } = await mailer.send({
      to: user.email,
      userId: user.id,
      template: 'product-update',
      data: news,
    });
    const settled = await waitFor(
      async () => {
        const delivery = await db.prisma.emailDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
        return delivery.status === 'QUEUED' ? undefined : delivery;
      },
      { timeoutMs: 10_000, what: 'the next product mail to settle' },
    );
    expect(settled.status).toBe('SUPPRESSED');
  });

  it('GET shows a confirmation form that posts back, and changes nothing (scanners prefetch links)', async () => {
    const user = await optedInUser();
    const link = await mailedLink(user);

    for (let i = 0; i < 2; i++) {
      const page = await fetch(link, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      const html = await page.text();
      expect(html).toContain('<form method="post" action="?token=');
      expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
      expect(html).not.toContain('<script');
    }
    const head = await fetch(link, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const json = await fetch(link);
    expect(await json.json()).toEqual({ status: 'confirm', channel: 'EMAIL', category: 'product' });

    expect(await productPreference(user.id)).toEqual({ enabled: true });
    expect(await db.prisma.unsubscribeReceipt.count({ where: { userId: user.id } })).toBe(0);

    // Submitting the form as a browser does: the form's action resolved against the page's URL.
    const page = await (await fetch(link, { headers: { accept: 'text/html' } })).text();
    const action = /action="([^"]+)"/.exec(page)?.[1]?.replace(/&amp;/g, '&') ?? '';
    const submitted = await fetch(new URL(action, link), {
      method: 'POST',
      headers: { ...ONE_CLICK, accept: 'text/html' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(submitted.status).toBe(200);
    expect(await submitted.text()).toContain('You are unsubscribed');
    expect(await productPreference(user.id)).toEqual({ enabled: false });

    // After use, GET says so too (still without changing anything).
    expect((await fetch(link)).status).toBe(410);
  });

  it('rejects a tampered link with 400 UNSUBSCRIBE_LINK_INVALID and changes nothing', async () => {
    const user = await optedInUser();
    const link = new URL(await mailedLink(user));
    const token = link.searchParams.get('token') ?? '';
    const [payload = '', mac = ''] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, cat: 'billing' })).toString('base64url');

    for (const bad of [
      `${forged}.${mac}`,
      `${payload}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`,
      '',
    ]) {
      link.searchParams.set('token', bad);
      const response = await oneClick(link.toString());
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: PreferenceErrorCode.UNSUBSCRIBE_LINK_INVALID });
      expect((await fetch(link, { headers: { accept: 'text/html' } })).status).toBe(400);
    }
    expect(await productPreference(user.id)).toEqual({ enabled: true });
    expect(await db.prisma.unsubscribeReceipt.count({ where: { userId: user.id } })).toBe(0);
  });

  it('rejects a link older than 90 days with 400 UNSUBSCRIBE_LINK_EXPIRED', async () => {
    const user = await optedInUser();
    const link = await mailedLink(user);
    now = new Date(Date.now() + 89 * 86_400_000);
    expect((await fetch(link)).status).toBe(200);
    now = new Date(Date.now() + 90 * 86_400_000 + 1000);
    const response = await oneClick(link);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: PreferenceErrorCode.UNSUBSCRIBE_LINK_EXPIRED });
    expect(await productPreference(user.id)).toEqual({ enabled: true });
  });

  it('lets exactly one of two concurrent clicks win', async () => {
    const user = await optedInUser();
    const link = await mailedLink(user);
    const statuses = (await Promise.all([oneClick(link), oneClick(link), oneClick(link)])).map(
      (r) => r.status,
    );
    expect(statuses.sort()).toEqual([200, 410, 410]);
    expect(await db.prisma.unsubscribeReceipt.count({ where: { userId: user.id } })).toBe(1);
  });

  it('answers other methods with 405, oversized bodies with 413, and leaves other paths alone', async () => {
    const user = await optedInUser();
    const link = await mailedLink(user);
    const put = await fetch(link, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    const big = await fetch(link, { method: 'POST', headers: ONE_CLICK, body: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
    expect((await fetch(`${server.url}/unsubscribe/other`)).status).toBe(404);
    expect(await productPreference(user.id)).toEqual({ enabled: true });
  });
});
