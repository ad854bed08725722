import { randomUUID } from 'node:crypto';
import { RedisKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { startHttpService, type HttpService } from '@gatehouse/service';
import { createTestAuth } from '@gatehouse/service/testing';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  uniqueTestPrefix,
  type TestDatabase,
} from '@gatehouse/testing';
import { createApiKeyRepository, createApiKeyService, type ApiKeyService } from '../api-keys';
import { USAGE_MAX_BODY_BYTES, USAGE_ROUTE_PATH, createUsageRoutes } from './usage.routes';
import { createUsageRepository } from './usage.repository';
import { createUsageService } from './usage.service';

const logger = createLogger({ name: 'usage-routes-test', level: 'silent' });
const PERIOD_START = new Date('2026-03-01T00:00:00.000Z');
const PERIOD_END = new Date('2026-04-01T00:00:00.000Z');
const NOW = new Date('2026-03-31T23:00:00.000Z');
const SERVICE_TOKEN = 'usage-routes-test-service-token-0123456789abcdef';

const redisUrl = redisUrlForTests('usage routes');
const prefix = uniqueTestPrefix();

let db: TestDatabase;
let kv: KeyValueStore;
let apiKeys: ApiKeyService;
let service: HttpService;
let url: string;

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 3 });
  kv = redisUrl ? new RedisKeyValueStore({ redisUrl, prefix }) : new MemoryKeyValueStore();
  const now = () => NOW;
  apiKeys = createApiKeyService({ apiKeys: createApiKeyRepository(db.prisma), logger, now });
  const usage = createUsageService({ usageRecords: createUsageRepository(db.prisma), kv, logger, now });
  service = await startHttpService({
    name: 'billing',
    host: '127.0.0.1',
    port: 0,
    logger,
    readinessChecks: {},
    routes: createUsageRoutes({ usage, apiKeys, logger, serviceToken: SERVICE_TOKEN }),
  });
  url = `${service.url}${USAGE_ROUTE_PATH}`;
});

afterAll(async () => {
  await service?.stop();
  await kv?.close();
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, prefix);
});

/** A user with a subscription limited to 100 api_calls and an API key with usage:write. */
async function customer(): Promise<{ userId: string; key: string; keyId: string }> {
  const user = await db.prisma.user.create({
    data: { email: `usage-route-${Math.random().toString(36).slice(2)}@example.test`, status: 'ACTIVE' },
  });
  const plan = await db.prisma.subscriptionPlan.upsert({
    where: { code: 'metered' },
    update: {},
    create: {
      code: 'metered',
      name: 'Metered',
      priceAmount: 1000,
      currency: 'USD',
      interval: 'MONTH',
      limits: { api_calls: 100 },
    },
  });
  await db.prisma.subscription.create({
    data: {
      userId: user.id,
      planId: plan.id,
      status: 'ACTIVE',
      priceAmount: 1000,
      currency: 'USD',
      currentPeriodStart: PERIOD_START,
      billingCycleAnchor: PERIOD_START,
      currentPeriodEnd: PERIOD_END,
    },
  });
  const { key, record } = await apiKeys.create(user.id, { name: 'server' });
  return { userId: user.id, key, keyId: record.id };
}

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe(`POST ${USAGE_ROUTE_PATH}`, () => {
  it('records usage for the key’s owner (200)', async () => {
    const { key } = await customer();
    const response = await post({ metric: 'api_calls', quantity: 40 }, bearer(key));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    await expect(response.json()).resolves.toEqual({
      metric: 'api_calls',
      used: 40,
      limit: 100,
      remaining: 60,
      resetsAt: PERIOD_END.toISOString(),
      replayed: false,
    });
  });

  it('answers 429 QUOTA_EXCEEDED with Retry-After = seconds to the period end', async () => {
    const { key } = await customer();
    expect((await post({ metric: 'api_calls', quantity: 100 }, bearer(key))).status).toBe(200);
    const response = await post({ metric: 'api_calls', quantity: 1 }, bearer(key));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3600');
    await expect(response.json()).resolves.toMatchObject({
      error: 'QUOTA_EXCEEDED',
      details: { metric: 'api_calls', limit: 100, used: 100, retryAfterSeconds: 3600 },
    });
  });

  it('answers 401 without a credential, with a wrong, revoked or malformed one', async () => {
    const { userId, key, keyId } = await customer();
    const missing = await post({ metric: 'api_calls', quantity: 1 });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    await expect(missing.json()).resolves.toMatchObject({ error: 'UNAUTHENTICATED' });

    const wrong = await post({ metric: 'api_calls', quantity: 1 }, bearer(`${key.slice(0, -2)}xx`));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect((await post({ metric: 'api_calls', quantity: 1 }, { authorization: 'Basic abc' })).status).toBe(
      401,
    );
    expect((await post({ metric: 'api_calls', quantity: 1 }, bearer('not-the-service-token'))).status).toBe(
      401,
    );

    await apiKeys.revoke(userId, keyId);
    expect((await post({ metric: 'api_calls', quantity: 1 }, bearer(key))).status).toBe(401);
    expect(await db.prisma.usageRecord.count({ where: { subscription: { userId } } })).toBe(0);
  });

  // Issue #14: an impersonation session must not burn the user's quota. This route never takes access tokens
  // (only API keys and the service token), so an impersonation token is refused like any other one.
  it('refuses access tokens, impersonation tokens included: 401, nothing counted', async () => {
    const { userId } = await customer();
    const { signer } = createTestAuth();
    for (const token of [
      await signer.sign({ userId, roles: ['member'] }),
      await signer.sign({ userId, roles: ['member'], impersonatorUserId: randomUUID() }),
    ]) {
      expect((await post({ metric: 'api_calls', quantity: 1 }, bearer(token))).status).toBe(401);
    }
    expect(await db.prisma.usageRecord.count({ where: { subscription: { userId } } })).toBe(0);
  });

  it('answers 403 for a key without the usage:write scope', async () => {
    const { key, keyId } = await customer();
    await db.prisma.apiKey.update({ where: { id: keyId }, data: { scopes: [] } });
    const response = await post({ metric: 'api_calls', quantity: 1 }, bearer(key));
    expect(response.status).toBe(403);
    await expect(response.json()).resolves.toMatchObject({ error: 'INSUFFICIENT_SCOPE' });
  });

  it('answers 400 for malformed JSON, unknown fields and invalid values', async () => {
    const { key, userId } = await customer();
    const malformed = await post('{"metric": ', bearer(key));
    expect(malformed.status).toBe(400);
    await expect(malformed.json()).resolves.toMatchObject({ error: 'BAD_USER_INPUT' });

    const unknownField = await post({ metric: 'api_calls', quantity: 1, userId }, bearer(key));
    expect(unknownField.status).toBe(400);

    const invalid = await post({ metric: 'api_calls', quantity: -3 }, bearer(key));
    expect(invalid.status).toBe(400);
    await expect(invalid.json()).resolves.toMatchObject({
      error: 'BAD_USER_INPUT',
      details: [expect.objectContaining({ path: 'quantity' })],
    });

    const unknownMetric = await post({ metric: 'sms', quantity: 1 }, bearer(key));
    expect(unknownMetric.status).toBe(400);
    await expect(unknownMetric.json()).resolves.toMatchObject({ error: 'UNKNOWN_METRIC' });
    expect(await db.prisma.usageRecord.count({ where: { subscription: { userId } } })).toBe(0);
  });

  it('answers 413 for a body over 4 KiB, 415 for a non-JSON body, 405 for other methods', async () => {
    const { key } = await customer();
    const padding = 'x'.repeat(USAGE_MAX_BODY_BYTES);
    const tooLarge = await post({ metric: 'api_calls', quantity: 1, idempotencyKey: padding }, bearer(key));
    expect(tooLarge.status).toBe(413);

    const text = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...bearer(key) },
      body: 'metric=api_calls',
    });
    expect(text.status).toBe(415);

    const get = await fetch(url, { headers: bearer(key) });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('replays a report with the same Idempotency-Key header without counting it again', async () => {
    const { key, userId } = await customer();
    const headers = { ...bearer(key), 'idempotency-key': 'job-42' };
    await expect((await post({ metric: 'api_calls', quantity: 7 }, headers)).json()).resolves.toMatchObject({
      used: 7,
      replayed: false,
    });
    await expect((await post({ metric: 'api_calls', quantity: 7 }, headers)).json()).resolves.toMatchObject({
      used: 7,
      replayed: true,
    });
    const conflicting = await post({ metric: 'api_calls', quantity: 7, idempotencyKey: 'other' }, headers);
    expect(conflicting.status).toBe(400);
    const rows = await db.prisma.usageRecord.findMany({ where: { subscription: { userId } } });
    expect(rows.map((row) => Number(row.quantity))).toEqual([7]);
  });

  it('accepts the service token for a user named in the body', async () => {
    const { userId } = await customer();
    const response = await post({ userId, metric: 'api_calls', quantity: 3 }, bearer(SERVICE_TOKEN));
    expect(response.status).toBe(200);
    await expect(response.json()).resolves.toMatchObject({ used: 3 });

    const withoutUser = await post({ metric: 'api_calls', quantity: 3 }, bearer(SERVICE_TOKEN));
    expect(withoutUser.status).toBe(400);
  });
});
