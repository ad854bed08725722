import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  uniqueTestPrefix,
  type TestDatabase,
} from '@gatehouse/testing';
import { QuotaExceededError } from './usage.errors';
import { createUsageRepository } from './usage.repository';
import { createUsageService, usageCounterKey, type UsageService } from './usage.service';

const logger = createLogger({ name: 'usage-service-test', level: 'silent' });
const PERIOD_START = new Date('2026-03-01T00:00:00.000Z');
const PERIOD_END = new Date('2026-04-01T00:00:00.000Z');
const NOW = new Date('2026-03-10T12:00:00.000Z');
const SECONDS_TO_PERIOD_END = (PERIOD_END.getTime() - NOW.getTime()) / 1000;

const redisUrl = redisUrlForTests('usage service');
const prefix = uniqueTestPrefix();

interface KvCase {
  name: string;
  create: () => KeyValueStore;
}
const kvCases: KvCase[] = [];
if (redisUrl) kvCases.push({ name: 'Redis', create: () => new RedisKeyValueStore({ redisUrl, prefix }) });
kvCases.push({ name: 'in-process KV', create: () => new MemoryKeyValueStore() });

let db: TestDatabase;
let plans: { metered: string; free: string; unlimited: string; open: string };

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 5 });
  const plan = (code: string, limits: Record<string, number | null>) =>
    db.prisma.subscriptionPlan.create({
      data: { code, name: code, priceAmount: 1000, currency: 'USD', interval: 'MONTH', limits },
    });
  plans = {
    metered: (await plan('metered', { api_calls: 100, seats: null, storage_gb: 3 })).id,
    free: (await plan('free', { api_calls: 10 })).id,
    unlimited: (await plan('unlimited', { api_calls: null })).id,
    open: (await plan('open', {})).id,
  };
});

afterAll(async () => {
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, prefix);
});

let userCounter = 0;
async function subscribedUser(
  options: { planId?: string; status?: 'ACTIVE' | 'TRIALING' | 'PAST_DUE' | 'SUSPENDED' | 'CANCELED' } = {},
): Promise<{ userId: string; subscriptionId: string }> {
  userCounter += 1;
  const user = await db.prisma.user.create({
    data: { email: `usage-${userCounter}-${Math.random().toString(36).slice(2)}@example.test` },
  });
  const subscription = await db.prisma.subscription.create({
    data: {
      userId: user.id,
      planId: options.planId ?? plans.metered,
      status: options.status ?? 'ACTIVE',
      priceAmount: 1000,
      currency: 'USD',
      currentPeriodStart: PERIOD_START,
      billingCycleAnchor: PERIOD_START,
      currentPeriodEnd: PERIOD_END,
    },
  });
  return { userId: user.id, subscriptionId: subscription.id };
}

async function storedTotal(subscriptionId: string, metric = 'api_calls'): Promise<number> {
  const rows = await db.prisma.usageRecord.findMany({ where: { subscriptionId, metric } });
  return rows.reduce((sum, row) => sum + Number(row.quantity), 0);
}

describe.each(kvCases)('usage service with $name', (kvCase) => {
  let kv: KeyValueStore;
  let clock: Date;
  let usage: UsageService;

  beforeEach(() => {
    kv = kvCase.create();
    clock = new Date(NOW);
    usage = createUsageService({
      usageRecords: createUsageRepository(db.prisma),
      kv,
      logger,
      now: () => clock,
    });
  });

  afterEach(async () => {
    await kv.close();
  });

  it('counts usage in Redis and in usage_records', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 7 })).resolves.toEqual({
      metric: 'api_calls',
      used: 7,
      limit: 100,
      remaining: 93,
      resetsAt: PERIOD_END,
      replayed: false,
    });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 3 })).resolves.toMatchObject({
      used: 10,
      remaining: 90,
    });
    expect(await kv.get(usageCounterKey(subscriptionId, 'api_calls', PERIOD_START))).toBe('10');
    const rows = await db.prisma.usageRecord.findMany({
      where: { subscriptionId },
      orderBy: { quantity: 'asc' },
    });
    expect(rows.map((row) => [row.metric, Number(row.quantity), row.periodStart])).toEqual([
      ['api_calls', 3, PERIOD_START],
      ['api_calls', 7, PERIOD_START],
    ]);
  });

  it('lets exactly the reports that fit through under concurrent load (limit 100, 30 × 5)', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, () => usage.recordUsage({ userId, metric: 'api_calls', quantity: 5 })),
    );
    const succeeded = results.filter((result) => result.status === 'fulfilled');
    const refused = results.flatMap((result) =>
      result.status === 'rejected' ? [result.reason as unknown] : [],
    );

    expect(succeeded).toHaveLength(20);
    expect(refused).toHaveLength(10);
    for (const error of refused) {
      expect(error).toBeInstanceOf(QuotaExceededError);
      expect(error).toMatchObject({
        code: 'QUOTA_EXCEEDED',
        retryAfterSeconds: SECONDS_TO_PERIOD_END,
        details: { reason: 'QUOTA_EXCEEDED', metric: 'api_calls', limit: 100 },
      });
    }
    expect(await storedTotal(subscriptionId)).toBe(100);
    expect(await kv.get(usageCounterKey(subscriptionId, 'api_calls', PERIOD_START))).toBe('100');
  });

  it('refuses a report that would go over the limit but accepts one that fits exactly', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    await usage.recordUsage({ userId, metric: 'api_calls', quantity: 95 });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 6 })).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { used: 95, limit: 100, resetsAt: PERIOD_END.toISOString() },
    });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 5 })).resolves.toMatchObject({
      used: 100,
      remaining: 0,
    });
    expect(await storedTotal(subscriptionId)).toBe(100);
  });

  it('rebuilds a lost counter from usage_records and still enforces the limit', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    await usage.recordUsage({ userId, metric: 'api_calls', quantity: 60 });
    const key = usageCounterKey(subscriptionId, 'api_calls', PERIOD_START);
    expect(await kv.delete(key)).toBe(true);

    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 50 })).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { used: 60 },
    });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 40 })).resolves.toMatchObject({
      used: 100,
    });
    expect(await kv.get(key)).toBe('100');
    // Expires a day after the period ends, not with the default of the store.
    const ttl = await kv.ttlSeconds(key);
    expect(ttl).not.toBeNull();
    expect(ttl!).toBeGreaterThan(SECONDS_TO_PERIOD_END);
  });

  it('rebuilds consistently when several reports find the counter missing at once', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    await usage.recordUsage({ userId, metric: 'api_calls', quantity: 50 });
    await kv.delete(usageCounterKey(subscriptionId, 'api_calls', PERIOD_START));

    const results = await Promise.allSettled(
      Array.from({ length: 15 }, () => usage.recordUsage({ userId, metric: 'api_calls', quantity: 5 })),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10);
    expect(await storedTotal(subscriptionId)).toBe(100);
  });

  it('counts a replayed report once and returns the current usage', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    const report = { userId, metric: 'api_calls', quantity: 4, idempotencyKey: 'batch-2026-03-10T12:00' };
    await expect(usage.recordUsage(report)).resolves.toMatchObject({ used: 4, replayed: false });
    await usage.recordUsage({ userId, metric: 'api_calls', quantity: 1 });
    await expect(usage.recordUsage(report)).resolves.toMatchObject({
      used: 5,
      remaining: 95,
      replayed: true,
    });
    expect(await storedTotal(subscriptionId)).toBe(5);

    await expect(usage.recordUsage({ ...report, quantity: 5 })).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { reason: 'IDEMPOTENCY_KEY_REUSED' },
    });
  });

  it('counts concurrent deliveries of the same idempotency key once', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    const report = { userId, metric: 'api_calls', quantity: 6, idempotencyKey: 'retry-me' };
    const results = await Promise.all(Array.from({ length: 8 }, () => usage.recordUsage(report)));
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    // (`used` of each answer may briefly include other deliveries still in flight; what is counted is exact.)
    expect(await storedTotal(subscriptionId)).toBe(6);
    expect(await kv.get(usageCounterKey(subscriptionId, 'api_calls', PERIOD_START))).toBe('6');
  });

  it('scopes idempotency keys to the user', async () => {
    const first = await subscribedUser();
    const second = await subscribedUser();
    await usage.recordUsage({ userId: first.userId, metric: 'api_calls', quantity: 2, idempotencyKey: 'k1' });
    await expect(
      usage.recordUsage({ userId: second.userId, metric: 'api_calls', quantity: 9, idempotencyKey: 'k1' }),
    ).resolves.toMatchObject({ used: 9, replayed: false });
  });

  it('starts a fresh counter when the period starts again', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    await usage.recordUsage({ userId, metric: 'api_calls', quantity: 100 });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 1 })).rejects.toBeInstanceOf(
      QuotaExceededError,
    );

    const nextEnd = new Date('2026-05-01T00:00:00.000Z');
    await db.prisma.subscription.update({
      where: { id: subscriptionId },
      data: { currentPeriodStart: PERIOD_END, currentPeriodEnd: nextEnd },
    });
    clock = new Date('2026-04-01T00:00:01.000Z');
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 30 })).resolves.toMatchObject({
      used: 30,
      remaining: 70,
      resetsAt: nextEnd,
    });
    const byPeriod = await db.prisma.usageRecord.groupBy({
      by: ['periodStart'],
      where: { subscriptionId },
      _sum: { quantity: true },
      orderBy: { periodStart: 'asc' },
    });
    expect(byPeriod.map((row) => [row.periodStart, Number(row._sum.quantity)])).toEqual([
      [PERIOD_START, 100],
      [PERIOD_END, 30],
    ]);
  });

  it('holds a SUSPENDED subscription to the free plan limits', async () => {
    const { userId } = await subscribedUser({ status: 'SUSPENDED' });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 10 })).resolves.toMatchObject({
      limit: 10,
    });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 1 })).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
    });
  });

  it('refuses users without a metered subscription (NO_SUBSCRIPTION)', async () => {
    const { userId } = await subscribedUser({ status: 'CANCELED' });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 1 })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'NO_SUBSCRIPTION' },
    });
  });

  it('refuses metrics the plan does not limit, but meters anything on a plan without limits', async () => {
    const metered = await subscribedUser();
    await expect(
      usage.recordUsage({ userId: metered.userId, metric: 'sms', quantity: 1 }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { reason: 'UNKNOWN_METRIC' },
    });
    await expect(
      usage.recordUsage({ userId: metered.userId, metric: 'seats', quantity: 500 }),
    ).resolves.toMatchObject({ used: 500, limit: null, remaining: null });

    const open = await subscribedUser({ planId: plans.open });
    await expect(
      usage.recordUsage({ userId: open.userId, metric: 'sms', quantity: 1_000_000 }),
    ).resolves.toMatchObject({ used: 1_000_000, limit: null });
    expect(await storedTotal(open.subscriptionId, 'sms')).toBe(1_000_000);
  });

  it.each([
    ['a zero quantity', { quantity: 0 }, 'quantity'],
    ['a fractional quantity', { quantity: 1.5 }, 'quantity'],
    ['a quantity over 1e6', { quantity: 1_000_001 }, 'quantity'],
    ['a malformed metric', { metric: 'API-Calls' }, 'metric'],
    ['an idempotency key with spaces', { idempotencyKey: 'a b' }, 'idempotencyKey'],
  ])('refuses %s (BAD_USER_INPUT)', async (_label, override, path) => {
    const { userId, subscriptionId } = await subscribedUser();
    await expect(
      usage.recordUsage({ userId, metric: 'api_calls', quantity: 1, ...override }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: [expect.objectContaining({ path })] });
    expect(await storedTotal(subscriptionId)).toBe(0);
  });

  it('reports usage per plan limit with percentages', async () => {
    const { userId, subscriptionId } = await subscribedUser();
    await usage.recordUsage({ userId, metric: 'api_calls', quantity: 33 });
    await usage.recordUsage({ userId, metric: 'storage_gb', quantity: 2 });
    await usage.recordUsage({ userId, metric: 'seats', quantity: 12 });
    // The counters are gone (Redis restart): the figures come back from usage_records.
    await kv.delete(usageCounterKey(subscriptionId, 'api_calls', PERIOD_START));

    await expect(usage.usageFor(subscriptionId)).resolves.toEqual([
      { key: 'api_calls', used: 33, limit: 100, percent: 33, resetsAt: PERIOD_END },
      { key: 'seats', used: 12, limit: null, percent: null, resetsAt: PERIOD_END },
      { key: 'storage_gb', used: 2, limit: 3, percent: 66.7, resetsAt: PERIOD_END },
    ]);
    await expect(usage.usageFor('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});

describe('usage service when the counter store is down', () => {
  it('fails closed with SERVICE_UNAVAILABLE and counts nothing; usageFor falls back to usage_records', async () => {
    const healthy = new MemoryKeyValueStore();
    const { userId, subscriptionId } = await subscribedUser();
    await createUsageService({
      usageRecords: createUsageRepository(db.prisma),
      kv: healthy,
      logger,
    }).recordUsage({
      userId,
      metric: 'api_calls',
      quantity: 8,
    });
    await healthy.close();

    const unreachable = new Error('connect ECONNREFUSED');
    const down: KeyValueStore = {
      get: () => Promise.reject(unreachable),
      set: () => Promise.reject(unreachable),
      delete: () => Promise.reject(unreachable),
      increment: () => Promise.reject(unreachable),
      ttlSeconds: () => Promise.reject(unreachable),
      ping: () => Promise.reject(unreachable),
      close: () => Promise.resolve(),
    };
    const usage = createUsageService({ usageRecords: createUsageRepository(db.prisma), kv: down, logger });
    await expect(usage.recordUsage({ userId, metric: 'api_calls', quantity: 1 })).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
    expect(await storedTotal(subscriptionId)).toBe(8);
    await expect(usage.usageFor(subscriptionId)).resolves.toContainEqual(
      expect.objectContaining({ key: 'api_calls', used: 8, limit: 100 }),
    );
  });
});
