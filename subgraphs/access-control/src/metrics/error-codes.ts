import { AppError, ErrorCode } from '@gatehouse/errors';

/**
 * Reasons the admin metrics attach to errors as `extensions.details.reason`. Stable across releases: clients may
 * switch on them.
 */
export const MetricsErrorCode = {
  /** BAD_USER_INPUT: `from` is not before `to`, or the period is longer than {@link MAX_METRICS_RANGE_DAYS} days. */
  METRICS_RANGE_INVALID: 'METRICS_RANGE_INVALID',
} as const;

export type MetricsErrorCode = (typeof MetricsErrorCode)[keyof typeof MetricsErrorCode];

/** Longest period `adminMetrics` accepts (a leap year). */
export const MAX_METRICS_RANGE_DAYS = 366;

/** The BAD_USER_INPUT error refusing a metrics period; `facts` say what was wrong (no user data in them). */
export function metricsRangeError(message: string, facts: Record<string, string | number> = {}): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, {
    details: { reason: MetricsErrorCode.METRICS_RANGE_INVALID, ...facts },
  });
}
