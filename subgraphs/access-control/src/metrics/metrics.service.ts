import { MAX_METRICS_RANGE_DAYS, metricsRangeError } from './error-codes';
import type { CurrencyAmount, MetricsPeriod, MetricsRepository, OperationUsage } from './metrics.repository';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Length of the period when the caller gives no `from`. */
export const DEFAULT_METRICS_RANGE_DAYS = 30;

/** The period as the caller gives it: either bound may be omitted (see {@link resolveMetricsPeriod}). */
export interface MetricsPeriodInput {
  from?: Date | null;
  to?: Date | null;
}

/** Every figure of the admin dashboard at one instant. */
export interface AdminMetricsSnapshot extends MetricsPeriod {
  totalUsers: number;
  usersByStatus: Array<{ status: string; count: number }>;
  activeSessions: number;
  failedLogins24h: number;
  revenueMonthToDate: CurrencyAmount[];
  revenueYearToDate: CurrencyAmount[];
  /** Sign-ups per UTC day of the period, oldest first, 0 for days without any. */
  userGrowth: Array<{ date: string; count: number }>;
  signInMethods: Array<{ method: string; count: number }>;
  subscriptionTiers: Array<{ planCode: string; count: number }>;
  /** Gateway requests per operation over the UTC days the period touches, busiest first (at most 50). */
  apiUsage: OperationUsage[];
}

/** Computes the admin metrics. Authorization is the caller's (the `users:read` rule of `adminMetrics`). */
export interface MetricsService {
  /**
   * Every metric, each with one aggregate query, run concurrently.
   * @throws AppError BAD_USER_INPUT with reason METRICS_RANGE_INVALID for a period that is empty, reversed or
   *   longer than {@link MAX_METRICS_RANGE_DAYS} days.
   */
  snapshot(input?: MetricsPeriodInput): Promise<AdminMetricsSnapshot>;
}

/** Options of {@link createMetricsService}. */
export interface MetricsServiceOptions {
  /** The aggregate queries (`createMetricsRepository`). */
  repository: MetricsRepository;
  /** The current instant (tests pin it). */
  now?: () => Date;
}

/**
 * The validated period: `to` defaults to `now`, `from` to {@link DEFAULT_METRICS_RANGE_DAYS} days before `to`.
 * @throws AppError BAD_USER_INPUT with reason METRICS_RANGE_INVALID.
 */
export function resolveMetricsPeriod(input: MetricsPeriodInput, now: Date): MetricsPeriod {
  const to = input.to ?? now;
  const from = input.from ?? new Date(to.getTime() - DEFAULT_METRICS_RANGE_DAYS * DAY_MS);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw metricsRangeError('The period bounds must be valid instants.');
  }
  if (from.getTime() >= to.getTime()) throw metricsRangeError('`from` must be before `to`.');
  if (to.getTime() - from.getTime() > MAX_METRICS_RANGE_DAYS * DAY_MS) {
    throw metricsRangeError(`The period may span at most ${MAX_METRICS_RANGE_DAYS} days.`, {
      maxDays: MAX_METRICS_RANGE_DAYS,
    });
  }
  return { from, to };
}

/** The {@link MetricsService}. */
export function createMetricsService(options: MetricsServiceOptions): MetricsService {
  const { repository } = options;
  const clock = options.now ?? (() => new Date());
  return {
    async snapshot(input = {}) {
      const now = clock();
      const period = resolveMetricsPeriod(input, now);
      const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      const yearStart = new Date(Date.UTC(now.getUTCFullYear(), 0, 1));
      // Bounded by `now` too: a payment or audit row stamped later (clock skew) belongs to no past period.
      const until = new Date(now.getTime() + 1);
      const [
        totalUsers,
        usersByStatus,
        activeSessions,
        failedLogins24h,
        revenueMonthToDate,
        revenueYearToDate,
        userGrowth,
        signInMethods,
        subscriptionTiers,
        apiUsage,
      ] = await Promise.all([
        repository.totalUsers(),
        repository.usersByStatus(),
        repository.activeSessions(now),
        repository.auditActionCount('LOGIN_FAILED', new Date(now.getTime() - DAY_MS), until),
        repository.revenue(monthStart, until),
        repository.revenue(yearStart, until),
        repository.userGrowth(period),
        repository.signInMethods(period),
        repository.subscriptionTiers(),
        repository.apiUsage(period),
      ]);
      return {
        ...period,
        totalUsers,
        usersByStatus: usersByStatus.map(({ key, count }) => ({ status: key, count })),
        activeSessions,
        failedLogins24h,
        revenueMonthToDate,
        revenueYearToDate,
        userGrowth: userGrowth.map(({ key, count }) => ({ date: key, count })),
        signInMethods: signInMethods.map(({ key, count }) => ({ method: key, count })),
        subscriptionTiers: subscriptionTiers.map(({ key, count }) => ({ planCode: key, count })),
        apiUsage,
      };
    },
  };
}
