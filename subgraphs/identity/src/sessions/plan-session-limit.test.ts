import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { MAX_SESSIONS_PER_USER, createPlanSessionLimit } from './plan-session-limit';
import { createPlanSessionLimitsRepository } from './plan-session-limits.repository';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 2 });
});
afterAll(async () => {
  await db?.close();
});

const FALLBACK = 7;

async function userOnPlan(limits: object | null, status: 'ACTIVE' | 'CANCELED' = 'ACTIVE', ended = false) {
  const suffix = Math.random().toString(36).slice(2);
  const user = await db.prisma.user.create({ data: { email: `u-${suffix}@example.test` } });
  if (limits === null) return user.id;
  const plan = await db.prisma.subscriptionPlan.create({
    data: { code: `p-${suffix}`, name: 'P', priceAmount: 100, currency: 'EUR', interval: 'MONTH', limits },
  });
  const start = new Date('2030-01-01T00:00:00Z');
  await db.prisma.subscription.create({
    data: {
      userId: user.id,
      planId: plan.id,
      status,
      priceAmount: 100,
      currency: 'EUR',
      currentPeriodStart: start,
      currentPeriodEnd: new Date('2030-02-01T00:00:00Z'),
      billingCycleAnchor: start,
      ...(ended ? { endedAt: start } : {}),
    },
  });
  return user.id;
}

describe('createPlanSessionLimit', () => {
  const limitFor = () => createPlanSessionLimit(createPlanSessionLimitsRepository(db.prisma), FALLBACK);

  it("reads the running subscription's plan limit", async () => {
    expect(await limitFor()(await userOnPlan({ sessions: 3, api_calls: 10 }))).toBe(3);
  });

  it('falls back without a subscription, without the key, or with an ended one', async () => {
    expect(await limitFor()(await userOnPlan(null))).toBe(FALLBACK);
    expect(await limitFor()(await userOnPlan({ api_calls: 10 }))).toBe(FALLBACK);
    expect(await limitFor()(await userOnPlan({ sessions: 3 }, 'CANCELED', true))).toBe(FALLBACK);
  });

  it('caps an unlimited or huge plan limit, and ignores nonsense', async () => {
    expect(await limitFor()(await userOnPlan({ sessions: null }))).toBe(MAX_SESSIONS_PER_USER);
    expect(await limitFor()(await userOnPlan({ sessions: 1_000_000 }))).toBe(MAX_SESSIONS_PER_USER);
    expect(await limitFor()(await userOnPlan({ sessions: 0 }))).toBe(FALLBACK);
    expect(await limitFor()(await userOnPlan({ sessions: 'lots' }))).toBe(FALLBACK);
  });
});
