import { randomUUID } from 'node:crypto';
import { seed, type Prisma } from '@gatehouse/db';
import { isAppError } from '@gatehouse/errors';
import {
  createTestAuth,
  postGraphQL,
  startTestSubgraph,
  type TestSubgraph,
} from '@gatehouse/service/testing';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { createApp } from '../app';
import { createMetricsRepository, metricQueries } from './metrics.repository';
import { createMetricsService, resolveMetricsPeriod, type AdminMetricsSnapshot } from './metrics.service';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
/**
 * The instant the metrics are computed at; every seeded time is relative to it. Pinned, so no run depends on
 * today's date: early on the day after a leap day, the 10-day period and the 30-day default both cross a month
 * boundary, month-to-date holds only this day's payments, and year-to-date starts in January.
 */
const NOW = new Date('2028-03-01T06:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const PERIOD = { from: ago(10 * DAY), to: NOW };

const { verifier, tokenFor } = createTestAuth();
let db: TestDatabase;
let subgraph: TestSubgraph;
const ids = { admin: '', member: '' };

interface SeededSession {
  familyId: string;
  revokedAt: Date | null;
  expiresAt: Date;
  lastActivityAt: Date;
}
interface SeededAudit {
  action: string;
  createdAt: Date;
  via?: string;
}
interface SeededPayment {
  amount: number;
  currency: string;
  status: 'SUCCEEDED' | 'FAILED' | 'REFUNDED';
  succeededAt: Date | null;
}
interface SeededSubscription {
  plan: string;
  status: 'ACTIVE' | 'TRIALING' | 'CANCELED' | 'PAST_DUE';
}

const familyA = randomUUID();
const familyF = randomUUID();
const sessions: SeededSession[] = [
  // Two sessions of one refreshed family: one device.
  { familyId: familyA, revokedAt: null, expiresAt: ago(-5 * DAY), lastActivityAt: ago(HOUR) },
  { familyId: familyA, revokedAt: null, expiresAt: ago(-6 * DAY), lastActivityAt: ago(2 * HOUR) },
  { familyId: randomUUID(), revokedAt: null, expiresAt: ago(-DAY), lastActivityAt: ago(29 * DAY) },
  // Revoked, expired, idle for more than 30 days.
  { familyId: randomUUID(), revokedAt: ago(HOUR), expiresAt: ago(-DAY), lastActivityAt: ago(HOUR) },
  { familyId: randomUUID(), revokedAt: null, expiresAt: ago(HOUR), lastActivityAt: ago(2 * HOUR) },
  { familyId: randomUUID(), revokedAt: null, expiresAt: ago(-DAY), lastActivityAt: ago(31 * DAY) },
  // A family with a revoked (rotated) session and a live one.
  { familyId: familyF, revokedAt: ago(3 * HOUR), expiresAt: ago(-DAY), lastActivityAt: ago(3 * HOUR) },
  { familyId: familyF, revokedAt: null, expiresAt: ago(-DAY), lastActivityAt: ago(HOUR) },
];

const audits: SeededAudit[] = [
  { action: 'LOGIN_FAILED', createdAt: ago(HOUR) },
  { action: 'LOGIN_FAILED', createdAt: ago(23 * HOUR) },
  { action: 'LOGIN_FAILED', createdAt: ago(25 * HOUR) },
  { action: 'LOGIN_FAILED', createdAt: ago(3 * DAY) },
  { action: 'OAUTH_LOGIN_FAILED', createdAt: ago(HOUR) },
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(HOUR), via: 'password' },
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(2 * DAY), via: 'password' },
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(3 * DAY) },
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(4 * DAY), via: 'oauth:google' },
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(5 * DAY), via: 'oauth:google' },
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(6 * DAY), via: 'oauth:google' },
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(7 * DAY), via: 'magic-link' },
  // Outside the period.
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(12 * DAY), via: 'magic-link' },
  { action: 'LOGIN_SUCCEEDED', createdAt: ago(12 * DAY), via: 'password' },
];

const thisYear = NOW.getUTCFullYear();
const payments: SeededPayment[] = [
  { amount: 1_000, currency: 'USD', status: 'SUCCEEDED', succeededAt: ago(HOUR) },
  { amount: 2_500, currency: 'USD', status: 'SUCCEEDED', succeededAt: ago(2 * HOUR) },
  { amount: 700, currency: 'EUR', status: 'SUCCEEDED', succeededAt: ago(3 * HOUR) },
  { amount: 9_999, currency: 'USD', status: 'FAILED', succeededAt: null },
  { amount: 8_888, currency: 'EUR', status: 'REFUNDED', succeededAt: ago(HOUR) },
  // Early this year (this month too in January: the expectation follows the same rule).
  { amount: 40_000, currency: 'EUR', status: 'SUCCEEDED', succeededAt: new Date(Date.UTC(thisYear, 0, 2)) },
  // Last year: in neither sum. Large amounts: sums beyond 32 bits must stay exact.
  {
    amount: 2_000_000_000,
    currency: 'USD',
    status: 'SUCCEEDED',
    succeededAt: new Date(Date.UTC(thisYear - 1, 11, 31)),
  },
  { amount: 2_000_000_000, currency: 'USD', status: 'SUCCEEDED', succeededAt: ago(4 * HOUR) },
  { amount: 2_000_000_000, currency: 'USD', status: 'SUCCEEDED', succeededAt: ago(5 * HOUR) },
];

const subscriptions: SeededSubscription[] = [
  { plan: 'metrics-basic', status: 'ACTIVE' },
  { plan: 'metrics-basic', status: 'TRIALING' },
  { plan: 'metrics-basic', status: 'CANCELED' },
  { plan: 'metrics-pro', status: 'ACTIVE' },
  { plan: 'metrics-pro', status: 'PAST_DUE' },
  { plan: 'metrics-idle', status: 'CANCELED' },
];

/** Rows of api_usage_daily, as access-control's consumer writes them; `dayOffset` in days before NOW's day. */
const usage: Array<{ dayOffset: number; operation: string; type: string; outcome: string; count: number }> = [
  { dayOffset: 0, operation: 'GetUser', type: 'query', outcome: 'ok', count: 5 },
  { dayOffset: 0, operation: 'GetUser', type: 'query', outcome: 'error', count: 2 },
  { dayOffset: 3, operation: 'GetUser', type: 'query', outcome: 'ok', count: 4 },
  { dayOffset: 3, operation: 'CreateThing', type: 'mutation', outcome: 'ok', count: 3 },
  // Beyond 32 bits: sums must stay exact.
  { dayOffset: 1, operation: 'Busy', type: 'query', outcome: 'ok', count: 3_000_000_000 },
  // Outside the days the period touches (before its first day; after its last).
  { dayOffset: 11, operation: 'Old', type: 'query', outcome: 'ok', count: 100 },
  { dayOffset: -1, operation: 'Future', type: 'query', outcome: 'ok', count: 50 },
];
const utcDay = (offset: number) => new Date(NOW.getTime() - offset * DAY).toISOString().slice(0, 10);

/** Users besides those of `seed()`: statuses, sign-up days inside and outside the period, deleted ones. */
const extraUsers: Array<{ status: string; createdAt: Date; deleted?: boolean }> = [
  { status: 'ACTIVE', createdAt: ago(9 * DAY) },
  { status: 'ACTIVE', createdAt: ago(9 * DAY + HOUR) },
  { status: 'PENDING_VERIFICATION', createdAt: ago(5 * DAY) },
  { status: 'SUSPENDED', createdAt: ago(DAY) },
  { status: 'DEACTIVATED', createdAt: ago(40 * DAY) },
  { status: 'DELETED', createdAt: ago(5 * DAY), deleted: true },
  { status: 'ACTIVE', createdAt: ago(11 * DAY) },
];

/** Every UTC month from the earliest seeded audit row (or the 30-day default period) through NOW's, as `YYYY-MM-01`. */
function auditMonths(): string[] {
  const earliest = new Date(Math.min(ago(30 * DAY).getTime(), ...audits.map((a) => a.createdAt.getTime())));
  const monthStart = (offset: number) =>
    Date.UTC(earliest.getUTCFullYear(), earliest.getUTCMonth() + offset, 1);
  const months: string[] = [];
  for (let offset = 0; monthStart(offset) <= NOW.getTime(); offset += 1) {
    months.push(new Date(monthStart(offset)).toISOString().slice(0, 10));
  }
  return months;
}

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 4 });
  // The migration partitions audit_logs from the month it runs in; the pinned months need their own partitions,
  // as the monthly job creates them in production (rows outside every partition would land in the default one).
  for (const month of auditMonths())
    await db.pool.query('SELECT create_audit_log_partition($1::date)', [month]);
  const summary = await seed(db.prisma, {
    adminEmail: 'admin@example.test',
    adminPassword: 'not-used-in-this-test',
    hashPassword: async () => 'not-a-real-hash',
  });
  ids.admin = summary.admin.id;
  const member = await db.prisma.user.create({ data: { email: 'member@example.test', status: 'ACTIVE' } });
  ids.member = member.id;
  const memberRole = await db.prisma.role.findUniqueOrThrow({ where: { name: 'member' } });
  await db.prisma.userRole.create({ data: { userId: ids.member, roleId: memberRole.id } });

  for (const [i, user] of extraUsers.entries()) {
    await db.pool.query(
      `INSERT INTO users (email, status, created_at, deleted_at) VALUES ($1, $2::user_status, $3, $4)`,
      [`u${i}@example.test`, user.status, user.createdAt, user.deleted ? ago(HOUR) : null],
    );
  }
  for (const session of sessions) {
    await db.pool.query(
      `INSERT INTO sessions (user_id, refresh_token_hash, family_id, revoked_at, expires_at, last_activity_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        ids.member,
        randomUUID(),
        session.familyId,
        session.revokedAt,
        session.expiresAt,
        session.lastActivityAt,
      ],
    );
  }
  for (const entry of audits) {
    await db.pool.query(`INSERT INTO audit_logs (action, created_at, metadata) VALUES ($1, $2, $3)`, [
      entry.action,
      entry.createdAt,
      JSON.stringify(entry.via === undefined ? { outcome: 'SUCCESS' } : { via: entry.via }),
    ]);
  }
  for (const payment of payments) {
    await db.pool.query(
      `INSERT INTO payments (user_id, amount, currency, status, idempotency_key, succeeded_at)
       VALUES ($1, $2, $3, $4::payment_status, $5, $6)`,
      [ids.member, payment.amount, payment.currency, payment.status, randomUUID(), payment.succeededAt],
    );
  }
  for (const code of new Set(subscriptions.map((s) => s.plan))) {
    await db.pool.query(
      `INSERT INTO subscription_plans (code, name, price_amount, currency, interval)
       VALUES ($1, $1, 1000, 'USD', 'MONTH')`,
      [code],
    );
  }
  for (const subscription of subscriptions) {
    await db.pool.query(
      `INSERT INTO subscriptions (user_id, plan_id, status, current_period_start, current_period_end,
         billing_cycle_anchor, price_amount, currency)
       SELECT $1, id, $2::subscription_status, $3, $4, $3, price_amount, currency
       FROM subscription_plans WHERE code = $5`,
      [ids.member, subscription.status, ago(DAY), ago(-DAY), subscription.plan],
    );
  }
  for (const row of usage) {
    await db.pool.query(
      `INSERT INTO api_usage_daily (day, operation, operation_type, outcome, count) VALUES ($1, $2, $3, $4, $5)`,
      [utcDay(row.dayOffset), row.operation, row.type, row.outcome, row.count],
    );
  }
  subgraph = await startTestSubgraph({
    name: 'access-control',
    createApp: (deps) => createApp({ ...deps, now: () => NOW }),
    prisma: db.prisma,
    verifier,
  });
});

afterAll(async () => {
  await subgraph?.stop();
  await db?.close();
});

/** Counts per key, as sorted entries. */
function tally<T>(items: T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}

function revenueSince(since: Date): Array<{ currency: string; amount: number }> {
  const sums = new Map<string, number>();
  for (const p of payments) {
    if (p.status !== 'SUCCEEDED' || !p.succeededAt || p.succeededAt < since || p.succeededAt > NOW) continue;
    sums.set(p.currency, (sums.get(p.currency) ?? 0) + p.amount);
  }
  return [...sums.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, amount]) => ({ currency, amount }));
}

/** The snapshot computed independently in JavaScript over the seeded rows (and every user row). */
async function expectedSnapshot(): Promise<AdminMetricsSnapshot> {
  const users = await db.prisma.user.findMany({ select: { status: true, deletedAt: true, createdAt: true } });
  expect(users).toHaveLength(extraUsers.length + 2);
  const live = users.filter((user) => user.deletedAt === null);
  const days: Array<{ date: string; count: number }> = [];
  const firstDay = Date.UTC(
    PERIOD.from.getUTCFullYear(),
    PERIOD.from.getUTCMonth(),
    PERIOD.from.getUTCDate(),
  );
  for (let day = firstDay; day < PERIOD.to.getTime(); day += DAY) {
    const count = users.filter(
      (user) =>
        user.createdAt >= PERIOD.from &&
        user.createdAt < PERIOD.to &&
        user.createdAt.getTime() >= day &&
        user.createdAt.getTime() < day + DAY,
    ).length;
    days.push({ date: new Date(day).toISOString().slice(0, 10), count });
  }
  const methods = tally(
    audits.filter(
      (a) => a.action === 'LOGIN_SUCCEEDED' && a.createdAt >= PERIOD.from && a.createdAt < PERIOD.to,
    ),
    (a) => a.via ?? 'password',
  );
  const live24 = sessions.filter(
    (s) => s.revokedAt === null && s.expiresAt > NOW && s.lastActivityAt.getTime() > NOW.getTime() - 30 * DAY,
  );
  const firstDate = PERIOD.from.toISOString().slice(0, 10);
  const lastDate = new Date(PERIOD.to.getTime() - 1).toISOString().slice(0, 10);
  const operations = new Map<string, { operation: string; type: string; requests: number; errors: number }>();
  for (const row of usage) {
    const date = utcDay(row.dayOffset);
    if (date < firstDate || date > lastDate) continue;
    const key = `${row.operation}/${row.type}`;
    const entry = operations.get(key) ?? { operation: row.operation, type: row.type, requests: 0, errors: 0 };
    entry.requests += row.count;
    if (row.outcome === 'error') entry.errors += row.count;
    operations.set(key, entry);
  }
  const tiers = tally(
    subscriptions.filter((s) => s.status === 'ACTIVE' || s.status === 'TRIALING'),
    (s) => s.plan,
  );
  return {
    ...PERIOD,
    totalUsers: live.length,
    usersByStatus: [...tally(live, (u) => u.status).entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, count]) => ({ status, count })),
    activeSessions: new Set(live24.map((s) => s.familyId)).size,
    failedLogins24h: audits.filter(
      (a) => a.action === 'LOGIN_FAILED' && a.createdAt.getTime() > NOW.getTime() - DAY,
    ).length,
    revenueMonthToDate: revenueSince(new Date(Date.UTC(thisYear, NOW.getUTCMonth(), 1))),
    revenueYearToDate: revenueSince(new Date(Date.UTC(thisYear, 0, 1))),
    userGrowth: days,
    signInMethods: [...methods.entries()]
      .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
      .map(([method, count]) => ({ method, count })),
    subscriptionTiers: [...tiers.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([planCode, count]) => ({ planCode, count })),
    apiUsage: [...operations.values()].sort(
      (a, b) => b.requests - a.requests || a.operation.localeCompare(b.operation),
    ),
  };
}

describe('MetricsService.snapshot', () => {
  it('matches an independent computation over the seeded rows', async () => {
    const service = createMetricsService({ repository: createMetricsRepository(db.prisma), now: () => NOW });
    const expected = await expectedSnapshot();
    // Guards against a seed that makes every comparison trivial.
    expect(expected.activeSessions).toBe(3);
    expect(expected.failedLogins24h).toBe(2);
    expect(expected.userGrowth).toHaveLength(11);
    expect(expected.userGrowth.some((day) => day.count === 0)).toBe(true);
    expect(expected.signInMethods[0]).toEqual({ method: 'oauth:google', count: 3 });
    expect(expected.revenueYearToDate.find((r) => r.currency === 'USD')?.amount).toBeGreaterThan(2 ** 31);
    expect(expected.apiUsage).toEqual([
      { operation: 'Busy', type: 'query', requests: 3_000_000_000, errors: 0 },
      { operation: 'GetUser', type: 'query', requests: 11, errors: 2 },
      { operation: 'CreateThing', type: 'mutation', requests: 3, errors: 0 },
    ]);
    expect(await service.snapshot(PERIOD)).toEqual(expected);
  });

  it('defaults to the 30 days before now', async () => {
    const service = createMetricsService({ repository: createMetricsRepository(db.prisma), now: () => NOW });
    const snapshot = await service.snapshot();
    expect(snapshot.from).toEqual(ago(30 * DAY));
    expect(snapshot.to).toEqual(NOW);
    expect(snapshot.userGrowth).toHaveLength(31);
    const users = await db.prisma.user.findMany({ select: { createdAt: true } });
    const signUps = users.filter((user) => user.createdAt >= ago(30 * DAY) && user.createdAt < NOW).length;
    expect(signUps).toBe(6);
    expect(snapshot.userGrowth.reduce((sum, day) => sum + day.count, 0)).toBe(signUps);
  });
});

describe('API usage', () => {
  it('lists the 50 most requested operations', async () => {
    // A day of its own, far from the other rows: 55 operations, `Op54` the busiest.
    const day = utcDay(200);
    for (let i = 0; i < 55; i += 1) {
      await db.pool.query(
        `INSERT INTO api_usage_daily (day, operation, operation_type, outcome, count) VALUES ($1, $2, 'query', 'ok', $3)`,
        [day, `Op${i}`, i + 1],
      );
    }
    const service = createMetricsService({ repository: createMetricsRepository(db.prisma), now: () => NOW });
    const { apiUsage } = await service.snapshot({ from: ago(200 * DAY), to: ago(199 * DAY) });
    expect(apiUsage).toHaveLength(50);
    expect(apiUsage[0]).toEqual({ operation: 'Op54', type: 'query', requests: 55, errors: 0 });
    expect(apiUsage.at(-1)?.operation).toBe('Op5');
  });
});

describe('resolveMetricsPeriod', () => {
  function reasonOf(run: () => unknown): unknown {
    try {
      run();
    } catch (error) {
      if (!isAppError(error)) throw error;
      expect(error.code).toBe('BAD_USER_INPUT');
      return (error.details as { reason?: string }).reason;
    }
    throw new Error('expected the period to be refused');
  }

  it('accepts up to 366 days and refuses longer, empty or reversed periods', () => {
    expect(resolveMetricsPeriod({ from: ago(366 * DAY) }, NOW)).toEqual({ from: ago(366 * DAY), to: NOW });
    expect(resolveMetricsPeriod({ to: ago(DAY) }, NOW)).toEqual({ from: ago(31 * DAY), to: ago(DAY) });
    expect(reasonOf(() => resolveMetricsPeriod({ from: ago(366 * DAY + 1) }, NOW))).toBe(
      'METRICS_RANGE_INVALID',
    );
    expect(reasonOf(() => resolveMetricsPeriod({ from: NOW, to: NOW }, NOW))).toBe('METRICS_RANGE_INVALID');
    expect(reasonOf(() => resolveMetricsPeriod({ from: NOW, to: ago(DAY) }, NOW))).toBe(
      'METRICS_RANGE_INVALID',
    );
  });
});

describe('Query.adminMetrics', () => {
  const query = `query ($from: DateTime, $to: DateTime) {
    adminMetrics(from: $from, to: $to) {
      from to totalUsers usersByStatus { status count } activeSessions failedLogins24h
      revenueMonthToDate { currency amount } revenueYearToDate { currency amount }
      userGrowth { date count } signInMethods { method count } subscriptionTiers { planCode count }
      apiUsage { operation type requests errors }
    }
  }`;
  const variables = { from: PERIOD.from.toISOString(), to: PERIOD.to.toISOString() };

  it('serves the metrics to user readers', async () => {
    const { body } = await postGraphQL(subgraph.url, query, {
      variables,
      token: await tokenFor(ids.admin, ['admin']),
    });
    expect(body.errors).toBeUndefined();
    const expected = await expectedSnapshot();
    expect(body.data?.adminMetrics).toEqual({ ...expected, from: variables.from, to: variables.to });
  });

  it('is refused to members (FORBIDDEN) and anonymous callers', async () => {
    const member = await postGraphQL(subgraph.url, query, { variables, token: await tokenFor(ids.member) });
    expect(member.body.data).toBeNull();
    expect(member.body.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN' });
    const anonymous = await postGraphQL(subgraph.url, query, { variables });
    expect(anonymous.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });

  it('refuses a period longer than 366 days with METRICS_RANGE_INVALID', async () => {
    const { body } = await postGraphQL(subgraph.url, query, {
      variables: { from: ago(367 * DAY).toISOString(), to: NOW.toISOString() },
      token: await tokenFor(ids.admin, ['admin']),
    });
    expect(body.data).toBeNull();
    expect(body.errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      details: { reason: 'METRICS_RANGE_INVALID', maxDays: 366 },
    });
  });
});

describe('query plans', () => {
  interface PlanNode {
    'Node Type': string;
    'Relation Name'?: string;
    'Index Name'?: string;
    Plans?: PlanNode[];
  }
  function nodes(plan: PlanNode): PlanNode[] {
    return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
  }
  /**
   * The plan nodes of `sql`, with fresh statistics and sequential scans discouraged: on these tiny tables the planner would rightly
   * prefer them, so this shows whether an index can serve the statement at all (a Seq Scan remains if none can).
   */
  async function planOf(sql: Prisma.Sql): Promise<PlanNode[]> {
    const client = await db.pool.connect();
    try {
      await client.query('ANALYZE audit_logs, sessions');
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
        `EXPLAIN (FORMAT JSON) ${sql.text}`,
        sql.values,
      );
      return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }
  const scansOf = (plan: PlanNode[], table: string) =>
    plan.filter((node) => node['Relation Name']?.startsWith(table) && node['Node Type'].includes('Scan'));

  it.each([
    ['failed logins', () => metricQueries.auditActionCount('LOGIN_FAILED', ago(DAY), NOW)],
    ['sign-in methods', () => metricQueries.signInMethods(PERIOD)],
  ])('%s: audit_logs partitions are read through the (action, created_at) index', async (_name, build) => {
    const scans = scansOf(await planOf(build()), 'audit_logs');
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) {
      expect(scan['Node Type']).not.toBe('Seq Scan');
      expect(scan['Index Name']).toMatch(/action_created_at/);
    }
  });

  it('API usage: api_usage_daily is read through its (day, ...) primary key', async () => {
    const plan = await planOf(metricQueries.apiUsage(PERIOD));
    const scans = scansOf(plan, 'api_usage_daily');
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) expect(scan['Node Type']).not.toBe('Seq Scan');
    // An index scan names the index itself; a bitmap heap scan has it on its Bitmap Index Scan child.
    expect(plan.some((node) => node['Index Name'] === 'api_usage_daily_pkey')).toBe(true);
  });

  it('active sessions: sessions are read through an index', async () => {
    const scans = scansOf(await planOf(metricQueries.activeSessions(NOW)), 'sessions');
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) expect(scan['Node Type']).not.toBe('Seq Scan');
  });
});
