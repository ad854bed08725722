import { randomBytes, randomUUID } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { createEnvelopeCipher } from '@gatehouse/crypto';
import { AppError } from '@gatehouse/errors';
import { MemoryJobQueue, type JobQueue, type JobQueueLogger } from '@gatehouse/jobs';
import { createTestDatabase, waitFor, type TestDatabase } from '@gatehouse/testing';
import { WebhookErrorCode } from './error-codes';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifyWebhookSignature } from './signature';
import { registerWebhookDeliveryJob } from './webhook-delivery.job';
import {
  createWebhookDeliveryService,
  type WebhookDeliveryService,
  type WebhookDeliveryServiceOptions,
  type WebhookEvent,
} from './webhook-delivery.service';
import {
  WebhookAuditAction,
  createWebhookEndpointService,
  type WebhookEndpointService,
} from './webhook-endpoint.service';
import { createWebhookDeliveryRepository } from './webhook-delivery.repository';
import { createWebhookEndpointRepository } from './webhook-endpoint.repository';

const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const quietJobs: JobQueueLogger = { warn: () => undefined, error: () => undefined };
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
/** Short, distinct waits so tests step through the whole schedule with the injected clock. */
const SCHEDULE = [1_000, 2_000, 3_000];

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
type Responder = (res: http.ServerResponse, index: number) => void;

/** The receiver: records every request; `respond[path]` decides the answer (default 200 "ok"). */
const received: Received[] = [];
const respond = new Map<string, Responder>();
let receiver: http.Server;
let base: string;
let port: number;

const clock = { now: new Date('2031-03-01T12:00:00.000Z') };
const advance = (ms: number) => (clock.now = new Date(clock.now.getTime() + ms));

let db: TestDatabase;
const queues: JobQueue[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
      const responder = respond.get(path);
      const index = received.filter((entry) => entry.path === path).length - 1;
      if (responder) responder(res, index);
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterEach(async () => {
  // Endpoints cascade to deliveries: every test starts without rows a sweep could pick up.
  await db.prisma.webhookEndpoint.deleteMany({});
  respond.clear();
});

afterAll(async () => {
  await Promise.all(queues.map((queue) => queue.close()));
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await db?.close();
});

/** A queue whose jobs nobody processes (tests drive deliver/deliverDue), unless `process` is called on it. */
function queue(): MemoryJobQueue {
  const created = new MemoryJobQueue({ logger: quietJobs });
  queues.push(created);
  return created;
}

function services(overrides: Partial<WebhookDeliveryServiceOptions> = {}): {
  endpoints: WebhookEndpointService;
  deliveries: WebhookDeliveryService;
} {
  return {
    endpoints: createWebhookEndpointService({
      endpoints: createWebhookEndpointRepository(db.prisma),
      cipher,
      allowHttp: true,
      allowPrivateNetworks: true,
    }),
    deliveries: createWebhookDeliveryService({
      deliveries: createWebhookDeliveryRepository(db.prisma),
      jobQueue: queue(),
      cipher,
      logger: quiet,
      now: () => clock.now,
      retrySchedule: SCHEDULE,
      allowHttp: true,
      allowPrivateNetworks: true,
      ...overrides,
    }),
  };
}

async function newUser(): Promise<string> {
  const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
  return user.id;
}

function event(userId: string | null, overrides: Partial<WebhookEvent> = {}): WebhookEvent {
  return {
    id: `evt_${randomUUID()}`,
    type: 'payment.succeeded',
    userId,
    data: { paymentId: randomUUID(), amount: 1999, currency: 'EUR' },
    createdAt: clock.now,
    ...overrides,
  };
}

/** A unique receiver path for one endpoint. */
const path = (label: string) => `/${label}-${randomUUID().slice(0, 8)}`;
const hits = (p: string) => received.filter((entry) => entry.path === p);

async function row(id: string) {
  return db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } });
}

async function appError(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return error;
}

describe('outbound webhooks', () => {
  it('delivers a signed event that the receiver helper verifies', async () => {
    const { endpoints, deliveries } = services();
    const userId = await newUser();
    const p = path('signed');
    const { endpoint, secret } = await endpoints.create(
      { userId },
      { url: `${base}${p}`, events: ['payment.succeeded'] },
    );
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const stored = await db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    expect(stored.secretEncrypted).not.toContain(secret.slice(6));

    const published = event(userId);
    const { deliveryIds } = await deliveries.publish(published);
    expect(deliveryIds).toHaveLength(1);
    const results = await deliveries.deliverDue();
    expect(results).toEqual([
      { deliveryId: deliveryIds[0], attempt: 1, status: 'DELIVERED', responseStatus: 200 },
    ]);

    const [request] = hits(p);
    expect(hits(p)).toHaveLength(1);
    expect(request!.headers['user-agent']).toBe('Gatehouse-Webhooks/1');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers[EVENT_ID_HEADER.toLowerCase()]).toBe(published.id);
    const header = request!.headers[SIGNATURE_HEADER.toLowerCase()] as string;
    expect(verifyWebhookSignature(secret, header, request!.body, { now: () => clock.now })).toEqual({
      valid: true,
      timestamp: Math.floor(clock.now.getTime() / 1000),
    });
    expect(verifyWebhookSignature(`${secret}x`, header, request!.body, { now: () => clock.now }).valid).toBe(
      false,
    );
    expect(JSON.parse(request!.body.toString('utf8'))).toEqual({
      id: published.id,
      type: 'payment.succeeded',
      created: Math.floor(published.createdAt.getTime() / 1000),
      data: published.data,
    });
    expect(await row(deliveryIds[0]!)).toMatchObject({
      status: 'DELIVERED',
      attemptCount: 1,
      responseStatus: 200,
      lastError: null,
      nextAttemptAt: null,
      deliveredAt: clock.now,
    });
  });

  it('delivers through the job queue (job id = delivery id) without a sweep', async () => {
    const jobQueue = queue();
    const { endpoints, deliveries } = services({ jobQueue });
    registerWebhookDeliveryJob({ jobQueue, service: deliveries });
    const userId = await newUser();
    const p = path('job');
    await endpoints.create({ userId }, { url: `${base}${p}`, events: [] });
    const { deliveryIds } = await deliveries.publish(event(userId, { type: 'invoice.paid' }));
    await waitFor(async () => (await row(deliveryIds[0]!)).status === 'DELIVERED', { what: 'job delivery' });
    expect(hits(p)).toHaveLength(1);
  });

  it('retries with backoff after 500s, then succeeds', async () => {
    const { endpoints, deliveries } = services();
    const userId = await newUser();
    const p = path('retry');
    respond.set(p, (res, index) => (index < 2 ? res.writeHead(500).end('boom') : res.writeHead(204).end()));
    await endpoints.create({ userId }, { url: `${base}${p}`, events: ['payment.failed'] });
    const { deliveryIds } = await deliveries.publish(event(userId, { type: 'payment.failed' }));
    const id = deliveryIds[0]!;
    const start = clock.now.getTime();

    await deliveries.deliverDue();
    expect(await row(id)).toMatchObject({
      status: 'PENDING',
      attemptCount: 1,
      responseStatus: 500,
      lastError: 'HTTP 500: boom',
      lastAttemptAt: new Date(start),
      nextAttemptAt: new Date(start + 1_000),
    });
    advance(999);
    expect(await deliveries.deliverDue()).toEqual([]);
    expect(await deliveries.deliver(id)).toBeNull();
    advance(1);
    await deliveries.deliverDue();
    expect(await row(id)).toMatchObject({
      status: 'PENDING',
      attemptCount: 2,
      nextAttemptAt: new Date(start + 3_000),
    });
    advance(2_000);
    await deliveries.deliverDue();
    expect(await row(id)).toMatchObject({
      status: 'DELIVERED',
      attemptCount: 3,
      responseStatus: 204,
      lastError: null,
      deliveredAt: new Date(start + 3_000),
    });
    expect(hits(p)).toHaveLength(3);
    // Each attempt is signed afresh over the same event id.
    expect(new Set(hits(p).map((hit) => hit.headers[EVENT_ID_HEADER.toLowerCase()])).size).toBe(1);
  });

  it('gives up (FAILED) after the last attempt, keeping at most 1 KiB of the answer', async () => {
    const { endpoints, deliveries } = services();
    const userId = await newUser();
    const p = path('fail');
    respond.set(p, (res) => res.writeHead(503).end('x'.repeat(5_000)));
    await endpoints.create({ userId }, { url: `${base}${p}`, events: ['payment.failed'] });
    const { deliveryIds } = await deliveries.publish(event(userId, { type: 'payment.failed' }));
    const id = deliveryIds[0]!;
    for (const wait of [0, ...SCHEDULE]) {
      advance(wait);
      await deliveries.deliverDue();
    }
    const failed = await row(id);
    expect(failed).toMatchObject({
      status: 'FAILED',
      attemptCount: SCHEDULE.length + 1,
      responseStatus: 503,
      nextAttemptAt: null,
    });
    expect(failed.lastError!.startsWith('HTTP 503: xxx')).toBe(true);
    expect(Buffer.byteLength(failed.lastError!)).toBe('HTTP 503: '.length + 1024);
    advance(24 * 3_600_000);
    expect(await deliveries.deliverDue()).toEqual([]);
    expect(hits(p)).toHaveLength(SCHEDULE.length + 1);
  });

  it('does not follow redirects and times out slow receivers', async () => {
    const { endpoints, deliveries } = services({ timeoutMs: 200 });
    const userId = await newUser();
    const redirect = path('redirect');
    const target = path('target');
    const slow = path('slow');
    respond.set(redirect, (res) => res.writeHead(302, { Location: `${base}${target}` }).end());
    respond.set(slow, () => undefined); // never answers
    await endpoints.create({ userId }, { url: `${base}${redirect}`, events: [] });
    await endpoints.create({ userId }, { url: `${base}${slow}`, events: [] });
    await deliveries.publish(event(userId));
    const results = await deliveries.deliverDue();
    expect(results.map((result) => result.status)).toEqual(['PENDING', 'PENDING']);
    expect(hits(target)).toHaveLength(0);
    expect(hits(redirect)).toHaveLength(1);
    const rows = await db.prisma.webhookDelivery.findMany({ include: { endpoint: true } });
    const bySuffix = (suffix: string) => rows.find((r) => r.endpoint.url.endsWith(suffix))!;
    expect(bySuffix(redirect)).toMatchObject({ responseStatus: 302, lastError: 'HTTP 302:' });
    expect(bySuffix(slow)).toMatchObject({ responseStatus: null, lastError: 'Timed out after 200 ms' });
  });

  it('lets an admin replay a failed delivery (audit-logged), with a fresh retry schedule', async () => {
    const { endpoints, deliveries } = services();
    const userId = await newUser();
    const adminId = await newUser();
    const p = path('replay');
    let up = false;
    respond.set(p, (res) => (up ? res.writeHead(200).end() : res.writeHead(500).end()));
    await endpoints.create({ userId }, { url: `${base}${p}`, events: [] });
    const { deliveryIds } = await deliveries.publish(event(userId));
    const id = deliveryIds[0]!;
    for (const wait of [0, ...SCHEDULE]) {
      advance(wait);
      await deliveries.deliverDue();
    }
    expect((await row(id)).status).toBe('FAILED');

    up = true;
    const replayed = await deliveries.replay(id, { actorUserId: adminId, requestId: 'req-replay' });
    expect(replayed).toMatchObject({
      id,
      status: 'PENDING',
      attemptCount: 0,
      nextAttemptAt: clock.now,
      lastError: null,
    });
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: WebhookAuditAction.DELIVERY_REPLAYED, targetId: id },
    });
    expect(audit).toMatchObject({
      actorUserId: adminId,
      targetType: 'WebhookDelivery',
      requestId: 'req-replay',
    });
    expect(audit.metadata).toMatchObject({
      previousStatus: 'FAILED',
      previousAttemptCount: 4,
      outcome: 'SUCCESS',
    });

    expect(await deliveries.deliverDue()).toEqual([
      { deliveryId: id, attempt: 1, status: 'DELIVERED', responseStatus: 200 },
    ]);
    expect(hits(p)).toHaveLength(SCHEDULE.length + 2);

    const missing = await appError(deliveries.replay(randomUUID()));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.details).toEqual({ reason: WebhookErrorCode.WEBHOOK_DELIVERY_NOT_FOUND });
  });

  it('refuses private, loopback and non-https destinations in production, also when DNS resolves there later', async () => {
    const production = createWebhookEndpointService({
      endpoints: createWebhookEndpointRepository(db.prisma),
      cipher,
    });
    const userId = await newUser();
    for (const url of [
      `${base}/x`,
      'https://127.0.0.1/x',
      'https://[::1]/x',
      'https://169.254.169.254/latest/meta-data',
      'https://10.0.0.8/x',
      'https://localhost/x',
      'https://user:secret@hooks.example.com/x',
    ]) {
      const error = await appError(production.create({ userId }, { url, events: [] }));
      expect({ url, code: error.code, details: error.details }).toEqual({
        url,
        code: 'BAD_USER_INPUT',
        details: { reason: WebhookErrorCode.WEBHOOK_URL_INVALID },
      });
    }
    await expect(
      production.create({ userId }, { url: 'https://hooks.example.com/gh', events: [] }),
    ).resolves.toMatchObject({
      endpoint: { url: 'https://hooks.example.com/gh' },
    });
    await db.prisma.webhookEndpoint.deleteMany({});

    // A public-looking name that resolves to loopback at delivery time (DNS rebinding): nothing is sent.
    const pinned: LookupFunction = (hostname, options, callback) => {
      const all: LookupAddress[] = hostname === 'rebind.example' ? [{ address: '127.0.0.1', family: 4 }] : [];
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, all);
      else callback(null, all[0]?.address ?? '', 4);
    };
    const httpOnly = createWebhookEndpointService({
      endpoints: createWebhookEndpointRepository(db.prisma),
      cipher,
      allowHttp: true,
    });
    const { deliveries } = services({ allowPrivateNetworks: false, lookup: pinned });
    const p = path('rebind');
    await httpOnly.create({ userId }, { url: `http://rebind.example:${port}${p}`, events: [] });
    const { deliveryIds } = await deliveries.publish(event(userId));
    await deliveries.deliverDue();
    expect(hits(p)).toHaveLength(0);
    expect(await row(deliveryIds[0]!)).toMatchObject({
      status: 'PENDING',
      responseStatus: null,
      lastError: 'rebind.example resolves to a private or reserved address',
    });
    // The same name resolving to the receiver is delivered once private networks are allowed (tests/dev).
    const { deliveries: permissive } = services({ lookup: pinned });
    advance(SCHEDULE[0]!);
    await permissive.deliverDue();
    expect(hits(p)).toHaveLength(1);
  });

  it("keeps owners apart: user A's events never reach user B's endpoints; platform endpoints get all", async () => {
    const { endpoints, deliveries } = services();
    const [a, b] = [await newUser(), await newUser()];
    const [pa, pb, pp] = [path('owner-a'), path('owner-b'), path('platform')];
    const endpointA = (await endpoints.create({ userId: a }, { url: `${base}${pa}`, events: [] })).endpoint;
    const endpointB = (await endpoints.create({ userId: b }, { url: `${base}${pb}`, events: [] })).endpoint;
    await endpoints.create({ platform: true }, { url: `${base}${pp}`, events: ['payment.succeeded'] });

    const { deliveryIds } = await deliveries.publish(event(a));
    expect(deliveryIds).toHaveLength(2);
    await deliveries.publish(event(a, { type: 'invoice.paid' })); // platform endpoint not subscribed
    await deliveries.publish(event(null, { type: 'subscription.updated' })); // platform only, and not subscribed
    await deliveries.deliverDue();
    expect(hits(pa)).toHaveLength(2);
    expect(hits(pp)).toHaveLength(1);
    expect(hits(pb)).toHaveLength(0);
    expect(await db.prisma.webhookDelivery.count({ where: { endpointId: endpointB.id } })).toBe(0);

    expect((await endpoints.list({ userId: b })).map((e) => e.id)).toEqual([endpointB.id]);
    expect((await endpoints.list({ platform: true })).map((e) => e.url)).toEqual([`${base}${pp}`]);
    for (const attempt of [
      endpoints.get({ userId: b }, endpointA.id),
      endpoints.update({ userId: b }, endpointA.id, { active: false }),
      endpoints.delete({ userId: b }, endpointA.id),
      endpoints.rotateSecret({ userId: b }, endpointA.id),
      endpoints.get({ platform: true }, endpointA.id),
      deliveries.deliveries({ userId: b }, endpointA.id),
    ]) {
      const error = await appError(attempt);
      expect(error.code).toBe('NOT_FOUND');
      expect(error.details).toEqual({ reason: WebhookErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND });
    }
    expect((await deliveries.deliveries({ userId: a }, endpointA.id)).edges).toHaveLength(2);
    expect((await deliveries.deliveries({ admin: true }, endpointA.id)).edges).toHaveLength(2);
    expect((await endpoints.get({ userId: a }, endpointA.id)).active).toBe(true);
  });

  it('publishing the same event twice is a no-op', async () => {
    const jobQueue = queue();
    const enqueue = jest.spyOn(jobQueue, 'enqueue');
    const { endpoints, deliveries } = services({ jobQueue });
    const userId = await newUser();
    const p = path('twice');
    await endpoints.create({ userId }, { url: `${base}${p}`, events: [] });
    const published = event(userId);
    const first = await deliveries.publish(published);
    const second = await deliveries.publish({ ...published, data: { changed: true } });
    expect(first.deliveryIds).toHaveLength(1);
    expect(second.deliveryIds).toEqual([]);
    expect(enqueue).toHaveBeenCalledTimes(1);
    expect(enqueue).toHaveBeenCalledWith(
      'webhook-delivery',
      { deliveryId: first.deliveryIds[0] },
      expect.objectContaining({ jobId: first.deliveryIds[0] }),
    );
    await deliveries.deliverDue();
    expect(hits(p)).toHaveLength(1);
    expect(JSON.parse(hits(p)[0]!.body.toString('utf8')).data).toEqual(published.data);
  });

  it('two concurrent sweeps deliver each delivery exactly once', async () => {
    const { endpoints, deliveries } = services();
    const other = services().deliveries;
    const userId = await newUser();
    const paths = [path('c1'), path('c2'), path('c3')];
    for (const p of paths) {
      // A slow receiver keeps both sweeps in flight at the same time.
      respond.set(p, (res) => setTimeout(() => res.writeHead(200).end(), 30));
      await endpoints.create({ userId }, { url: `${base}${p}`, events: [] });
    }
    const ids = new Set<string>();
    for (let i = 0; i < 4; i += 1) {
      for (const id of (await deliveries.publish(event(userId))).deliveryIds) ids.add(id);
    }
    expect(ids.size).toBe(12);
    const [one, two] = await Promise.all([deliveries.deliverDue(), other.deliverDue()]);
    const attempted = [...one, ...two].map((result) => result.deliveryId);
    expect(attempted.sort()).toEqual([...ids].sort());
    expect(paths.map((p) => hits(p).length)).toEqual([4, 4, 4]);
    expect(await db.prisma.webhookDelivery.count({ where: { status: 'DELIVERED', attemptCount: 1 } })).toBe(
      12,
    );
  });

  it('validates endpoints: event allow-list, 10 per owner, update, rotate (old secret stops verifying), delete', async () => {
    const { endpoints, deliveries } = services();
    const userId = await newUser();
    const unknown = await appError(
      endpoints.create({ userId }, { url: `${base}/x`, events: ['payment.teleported'] }),
    );
    expect(unknown.details).toEqual({ reason: WebhookErrorCode.WEBHOOK_EVENT_TYPE_UNKNOWN });
    const created = await Promise.all(
      Array.from({ length: 11 }, (_, i) =>
        endpoints.create({ userId }, { url: `${base}/limit-${i}`, events: [] }).then(
          (value) => value,
          (error: unknown) => error,
        ),
      ),
    );
    const refused = created.filter((result) => result instanceof AppError);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      code: 'CONFLICT',
      details: { reason: WebhookErrorCode.WEBHOOK_ENDPOINT_LIMIT, limit: 10 },
    });
    expect(await endpoints.list({ userId })).toHaveLength(10);

    const [first] = await endpoints.list({ userId });
    const p = path('rotated');
    const updated = await endpoints.update({ userId }, first!.id, {
      url: `${base}${p}`,
      events: ['invoice.paid', 'invoice.paid'],
      description: 'Accounting',
    });
    expect(updated).toMatchObject({
      url: `${base}${p}`,
      events: ['invoice.paid'],
      description: 'Accounting',
    });
    const old = await endpoints.rotateSecret({ userId }, first!.id);
    const rotated = await endpoints.rotateSecret({ userId }, first!.id);
    expect(rotated.secret).not.toBe(old.secret);
    await deliveries.publish(event(userId, { type: 'invoice.paid' }));
    await deliveries.deliverDue();
    const [hit] = hits(p);
    const header = hit!.headers[SIGNATURE_HEADER.toLowerCase()] as string;
    expect(verifyWebhookSignature(rotated.secret, header, hit!.body, { now: () => clock.now }).valid).toBe(
      true,
    );
    expect(verifyWebhookSignature(old.secret, header, hit!.body, { now: () => clock.now }).valid).toBe(false);

    const actions = await db.prisma.auditLog.findMany({
      where: { targetId: first!.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(actions.map((entry) => entry.action)).toEqual([
      'WEBHOOK_ENDPOINT_CREATED',
      'WEBHOOK_ENDPOINT_UPDATED',
      'WEBHOOK_SECRET_ROTATED',
      'WEBHOOK_SECRET_ROTATED',
    ]);
    expect(JSON.stringify(actions)).not.toContain(rotated.secret);

    await endpoints.delete({ userId }, first!.id);
    expect(await endpoints.list({ userId })).toHaveLength(9);
    expect(await db.prisma.webhookDelivery.count({ where: { endpointId: first!.id } })).toBe(0);
  });

  it('pages the delivery log newest first and filters by status', async () => {
    const { endpoints, deliveries } = services();
    const userId = await newUser();
    const p = path('log');
    const { endpoint } = await endpoints.create({ userId }, { url: `${base}${p}`, events: [] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      advance(1_000);
      ids.push(...(await deliveries.publish(event(userId))).deliveryIds);
    }
    await deliveries.deliver(ids[0]!);
    const page1 = await deliveries.deliveries({ userId }, endpoint.id, { first: 2 });
    expect(page1.edges.map((edge) => edge.node.id)).toEqual([ids[2], ids[1]]);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = await deliveries.deliveries({ userId }, endpoint.id, {
      first: 2,
      after: page1.pageInfo.endCursor,
    });
    expect(page2.edges.map((edge) => edge.node.id)).toEqual([ids[0]]);
    expect(page2.pageInfo).toEqual({ hasNextPage: false, endCursor: page2.edges[0]!.cursor });
    const delivered = await deliveries.deliveries({ userId }, endpoint.id, { status: 'DELIVERED' });
    expect(delivered.edges.map((edge) => edge.node)).toEqual([
      expect.objectContaining({ id: ids[0], status: 'DELIVERED' }),
    ]);
    const bad = await appError(deliveries.deliveries({ userId }, endpoint.id, { after: 'bm90LWEtY3Vyc29y' }));
    expect(bad.details).toEqual({ reason: WebhookErrorCode.WEBHOOK_CURSOR_INVALID });
  });
});
