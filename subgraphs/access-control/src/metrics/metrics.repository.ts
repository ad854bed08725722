import { Prisma, type PrismaClient } from '@gatehouse/db';

/** A count per key (status, method, plan code, day). */
export interface KeyedCount {
  key: string;
  count: number;
}

/** A sum of minor units in one currency. */
export interface CurrencyAmount {
  currency: string;
  amount: number;
}

/** Requests and errors of one operation. */
export interface OperationUsage {
  /** The name the gateway recorded: a GraphQL name, `anonymous`, `other` or `unknown`. */
  operation: string;
  /** `query`, `mutation`, `subscription` or `unknown`. */
  type: string;
  requests: number;
  errors: number;
}

/** Most operations `apiUsage` lists. */
export const MAX_API_USAGE_OPERATIONS = 50;

/** A half-open interval of instants: `from` inclusive, `to` exclusive. */
export interface MetricsPeriod {
  from: Date;
  to: Date;
}

/**
 * The SQL of each metric: exactly one statement each, aggregating in the database (nothing but the result rows
 * leaves it). Exported so tests can EXPLAIN the very statements the repository runs. Every time bound is a
 * parameter (not `now()`), which lets the planner prune audit_logs partitions when it plans the statement.
 */
export const metricQueries = {
  totalUsers: (): Prisma.Sql => Prisma.sql`
    SELECT count(*)::int AS count FROM users WHERE deleted_at IS NULL`,

  usersByStatus: (): Prisma.Sql => Prisma.sql`
    SELECT status::text AS key, count(*)::int AS count
    FROM users WHERE deleted_at IS NULL
    GROUP BY status ORDER BY status::text`,

  /** Live session families: not revoked, not expired, used within the 30 days before `now`. */
  activeSessions: (now: Date): Prisma.Sql => Prisma.sql`
    SELECT count(DISTINCT family_id)::int AS count
    FROM sessions
    WHERE revoked_at IS NULL
      AND expires_at > ${now}::timestamptz
      AND last_activity_at > ${now}::timestamptz - interval '30 days'`,

  /** `action` rows in [since, until): served by the (action, created_at) index of each audit_logs partition. */
  auditActionCount: (action: string, since: Date, until: Date): Prisma.Sql => Prisma.sql`
    SELECT count(*)::int AS count
    FROM audit_logs
    WHERE action = ${action}
      AND created_at >= ${since}::timestamptz
      AND created_at < ${until}::timestamptz`,

  /** Succeeded payments with `succeeded_at` in [since, until), summed per currency (text: sums exceed int4). */
  revenue: (since: Date, until: Date): Prisma.Sql => Prisma.sql`
    SELECT currency, sum(amount)::text AS amount
    FROM payments
    WHERE status = 'SUCCEEDED'::payment_status
      AND succeeded_at >= ${since}::timestamptz
      AND succeeded_at < ${until}::timestamptz
    GROUP BY currency ORDER BY currency`,

  /**
   * Sign-ups per UTC day of the period. The sign-ups are aggregated in one pass over the period, then joined to
   * the generated days so that days without any are listed with 0.
   */
  userGrowth: ({ from, to }: MetricsPeriod): Prisma.Sql => Prisma.sql`
    WITH days AS (
      SELECT generate_series(
        date_trunc('day', ${from}::timestamptz AT TIME ZONE 'UTC'),
        date_trunc('day', (${to}::timestamptz - interval '1 millisecond') AT TIME ZONE 'UTC'),
        interval '1 day'
      ) AS day
    ), signups AS (
      SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day, count(*)::int AS count
      FROM users
      WHERE created_at >= ${from}::timestamptz AND created_at < ${to}::timestamptz
      GROUP BY 1
    )
    SELECT to_char(days.day, 'YYYY-MM-DD') AS key, coalesce(signups.count, 0)::int AS count
    FROM days LEFT JOIN signups ON signups.day = days.day
    ORDER BY days.day`,

  /** LOGIN_SUCCEEDED rows of the period per `metadata.via` (rows without one are password sign-ins). */
  signInMethods: ({ from, to }: MetricsPeriod): Prisma.Sql => Prisma.sql`
    SELECT coalesce(metadata->>'via', 'password') AS key, count(*)::int AS count
    FROM audit_logs
    WHERE action = 'LOGIN_SUCCEEDED'
      AND created_at >= ${from}::timestamptz
      AND created_at < ${to}::timestamptz
    GROUP BY 1 ORDER BY count DESC, key`,

  /**
   * Gateway requests per operation over the UTC days the period touches (usage is kept per day), busiest first:
   * a range read of the (day, ...) primary key, summed per operation (text: sums exceed int4).
   */
  apiUsage: ({ from, to }: MetricsPeriod): Prisma.Sql => Prisma.sql`
    SELECT operation, operation_type AS type,
           sum(count)::text AS requests,
           coalesce(sum(count) FILTER (WHERE outcome = 'error'), 0)::text AS errors
    FROM api_usage_daily
    WHERE day >= (${from}::timestamptz AT TIME ZONE 'UTC')::date
      AND day <= ((${to}::timestamptz - interval '1 millisecond') AT TIME ZONE 'UTC')::date
    GROUP BY operation, operation_type
    ORDER BY sum(count) DESC, operation, operation_type
    LIMIT ${MAX_API_USAGE_OPERATIONS}`,

  subscriptionTiers: (): Prisma.Sql => Prisma.sql`
    SELECT p.code AS key, count(*)::int AS count
    FROM subscriptions s
    JOIN subscription_plans p ON p.id = s.plan_id
    WHERE s.status IN ('ACTIVE'::subscription_status, 'TRIALING'::subscription_status)
    GROUP BY p.code ORDER BY p.code`,
} as const;

/** Read-only aggregates over identity, audit and billing tables for the admin dashboard. One query per method. */
export interface MetricsRepository {
  totalUsers(): Promise<number>;
  usersByStatus(): Promise<KeyedCount[]>;
  activeSessions(now: Date): Promise<number>;
  /** Rows of `action` written in [since, until). */
  auditActionCount(action: string, since: Date, until: Date): Promise<number>;
  revenue(since: Date, until: Date): Promise<CurrencyAmount[]>;
  /** One entry per UTC day of the period (key `YYYY-MM-DD`), oldest first. */
  userGrowth(period: MetricsPeriod): Promise<KeyedCount[]>;
  signInMethods(period: MetricsPeriod): Promise<KeyedCount[]>;
  subscriptionTiers(): Promise<KeyedCount[]>;
  /** The {@link MAX_API_USAGE_OPERATIONS} busiest operations of the days the period touches. */
  apiUsage(period: MetricsPeriod): Promise<OperationUsage[]>;
}

/** The {@link MetricsRepository} over Prisma's raw queries. */
export function createMetricsRepository(prisma: PrismaClient): MetricsRepository {
  const counts = (sql: Prisma.Sql) => prisma.$queryRaw<KeyedCount[]>(sql);
  async function single(sql: Prisma.Sql): Promise<number> {
    const rows = await prisma.$queryRaw<Array<{ count: number }>>(sql);
    return rows[0]?.count ?? 0;
  }
  return {
    totalUsers: () => single(metricQueries.totalUsers()),
    usersByStatus: () => counts(metricQueries.usersByStatus()),
    activeSessions: (now) => single(metricQueries.activeSessions(now)),
    auditActionCount: (action, since, until) => single(metricQueries.auditActionCount(action, since, until)),
    async revenue(since, until) {
      const rows = await prisma.$queryRaw<Array<{ currency: string; amount: string }>>(
        metricQueries.revenue(since, until),
      );
      return rows.map((row) => ({ currency: row.currency, amount: Number(row.amount) }));
    },
    userGrowth: (period) => counts(metricQueries.userGrowth(period)),
    signInMethods: (period) => counts(metricQueries.signInMethods(period)),
    subscriptionTiers: () => counts(metricQueries.subscriptionTiers()),
    async apiUsage(period) {
      const rows = await prisma.$queryRaw<
        Array<{ operation: string; type: string; requests: string; errors: string }>
      >(metricQueries.apiUsage(period));
      return rows.map((row) => ({ ...row, requests: Number(row.requests), errors: Number(row.errors) }));
    },
  };
}
