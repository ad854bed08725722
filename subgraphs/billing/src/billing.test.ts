import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { seed } from '@gatehouse/db';
import { createTestDatabase, recordSqlStatements, testSecrets, type TestDatabase } from '@gatehouse/testing';
import {
  createTestAuth,
  postGraphQL,
  startTestSubgraph,
  type TestSubgraph,
} from '@gatehouse/service/testing';
import { createServiceKit, type ServiceKit } from '@gatehouse/service';
import { createApp } from './app';
import { loadBillingConfig } from './config';
import { createBillingServices, type BillingRuntime } from './runtime';

const { verifier, tokenFor } = createTestAuth();

let db: TestDatabase;
let subgraph: TestSubgraph;
let runtime: BillingRuntime;
let kit: ServiceKit;
let scratch: string | undefined;
let graphqlUrl: string;
const ids = { alice: '', bob: '', carol: '', dave: '' };
const periodEnd = new Date('2030-01-31T00:00:00.000Z');

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, {
    adminEmail: 'admin@example.test',
    adminPassword: 'unused',
    hashPassword: async () => 'x',
  });
  const plan = async (code: string) =>
    (await db.prisma.subscriptionPlan.findUniqueOrThrow({ where: { code } })).id;
  const retired = await db.prisma.subscriptionPlan.create({
    data: {
      code: 'legacy',
      name: 'Legacy',
      priceAmount: 900,
      currency: 'EUR',
      interval: 'YEAR',
      active: false,
    },
  });
  for (const name of ['alice', 'bob', 'carol', 'dave'] as const) {
    ids[name] = (await db.prisma.user.create({ data: { email: `${name}@example.test` } })).id;
  }
  const subscription = (userId: string, planId: string, extra: object = {}) =>
    db.prisma.subscription.create({
      data: {
        userId,
        planId,
        priceAmount: 1000,
        currency: 'EUR',
        status: 'ACTIVE',
        currentPeriodStart: new Date('2029-12-31'),
        billingCycleAnchor: new Date('2029-12-31'),
        currentPeriodEnd: periodEnd,
        ...extra,
      },
    });
  await subscription(ids.alice, await plan('pro'));
  await subscription(ids.bob, await plan('free'), { status: 'CANCELED', endedAt: new Date('2029-01-01') });
  await subscription(ids.bob, await plan('business'), {
    status: 'TRIALING',
    trialEndsAt: new Date('2030-01-14T00:00:00.000Z'),
    cancelAtPeriodEnd: true,
  });
  await subscription(ids.carol, retired.id);

  // Dave reads other users' billing through the `admin` role held in the database (live permissions).
  const admin = await db.prisma.role.findUniqueOrThrow({ where: { name: 'admin' } });
  await db.prisma.userRole.create({ data: { userId: ids.dave, roleId: admin.id } });

  scratch = await mkdtemp(join(tmpdir(), 'billing-test-'));
  const kv = new MemoryKeyValueStore();
  const logger = createLogger({ name: 'billing-test', level: 'silent' });
  const env = {
    NODE_ENV: 'test',
    ...testSecrets(),
    STORAGE_DIR: join(scratch, 'storage'),
    MAIL_OUTBOX_DIR: join(scratch, 'outbox'),
  };
  kit = createServiceKit({ prisma: db.prisma, logger, kv, env });
  runtime = createBillingServices({
    prisma: db.prisma,
    logger,
    config: loadBillingConfig(env),
    kv,
    kit,
    schedule: false,
  });
  subgraph = await startTestSubgraph({
    name: 'billing',
    createApp: (deps) => createApp({ ...deps, billing: runtime.services, kv }),
    prisma: db.prisma,
    verifier,
  });
  graphqlUrl = subgraph.url;
});

afterAll(async () => {
  await subgraph?.stop();
  await runtime?.close();
  await kit?.close();
  await db?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('Query.plans', () => {
  it('is public and lists the active seeded plans, cheapest first', async () => {
    const { body } = await postGraphQL(
      graphqlUrl,
      '{ plans { code name price { amount currency } interval intervalCount trialDays features limits { key value } } }',
    );
    expect(body.errors).toBeUndefined();
    const plans = body.data?.plans as Array<Record<string, unknown>>;
    expect(plans.map((p) => p.code)).toEqual(['free', 'pro', 'business']);
    expect(plans[1]).toEqual({
      code: 'pro',
      name: 'Pro',
      price: { amount: 2900, currency: 'USD' },
      interval: 'MONTH',
      intervalCount: 1,
      trialDays: 14,
      features: ['email_password_login', 'social_login', 'mfa', 'audit_log', 'webhooks'],
      limits: [
        { key: 'api_calls', value: 1000000 },
        { key: 'monthly_active_users', value: 10000 },
        { key: 'webhook_endpoints', value: 10 },
      ],
    });
    expect(plans[2]?.limits).toEqual([
      { key: 'api_calls', value: null },
      { key: 'monthly_active_users', value: null },
      { key: 'webhook_endpoints', value: null },
    ]);
  });
});

describe('User.subscription', () => {
  const query = `query ($reps: [_Any!]!) {
    _entities(representations: $reps) {
      ... on User { id subscription { status currentPeriodEnd cancelAtPeriodEnd trialEndsAt plan { code } } }
    }
  }`;
  const reps = () => [ids.alice, ids.bob, ids.carol, ids.dave].map((id) => ({ __typename: 'User', id }));

  it('loads current subscriptions and their plans with one query each', async () => {
    const sql = recordSqlStatements(db.pool);
    try {
      const { body } = await postGraphQL(graphqlUrl, query, {
        variables: { reps: reps() },
        token: await tokenFor(ids.dave, ['admin']),
      });
      expect(body.errors).toBeUndefined();
      const base = { currentPeriodEnd: periodEnd.toISOString(), cancelAtPeriodEnd: false, trialEndsAt: null };
      expect(body.data?._entities).toEqual([
        { id: ids.alice, subscription: { ...base, status: 'ACTIVE', plan: { code: 'pro' } } },
        {
          id: ids.bob,
          subscription: {
            ...base,
            status: 'TRIALING',
            cancelAtPeriodEnd: true,
            trialEndsAt: '2030-01-14T00:00:00.000Z',
            plan: { code: 'business' },
          },
        },
        // Retired plans stay resolvable for the subscriptions still on them.
        { id: ids.carol, subscription: { ...base, status: 'ACTIVE', plan: { code: 'legacy' } } },
        { id: ids.dave, subscription: null },
      ]);
      expect(sql.count('subscriptions')).toBe(1);
      expect(sql.count('subscription_plans')).toBe(1);
    } finally {
      sql.restore();
    }
  });

  it("lets users read their own subscription but not other users' subscriptions", async () => {
    const { body } = await postGraphQL(graphqlUrl, query, {
      variables: { reps: reps().slice(0, 2) },
      token: await tokenFor(ids.alice),
    });
    expect(body.data?._entities).toEqual([
      {
        id: ids.alice,
        subscription: {
          status: 'ACTIVE',
          currentPeriodEnd: periodEnd.toISOString(),
          cancelAtPeriodEnd: false,
          trialEndsAt: null,
          plan: { code: 'pro' },
        },
      },
      null,
    ]);
    expect(new Set(body.errors?.map((e) => e.extensions?.code))).toEqual(new Set(['FORBIDDEN']));
  });

  it('tells anonymous callers to authenticate', async () => {
    const { body } = await postGraphQL(graphqlUrl, query, { variables: { reps: reps().slice(0, 1) } });
    expect(body.data?._entities).toEqual([null]);
    expect(new Set(body.errors?.map((e) => e.extensions?.code))).toEqual(new Set(['UNAUTHENTICATED']));
  });
});
