import { AppError, ErrorCode, type AppErrorOptions } from '@gatehouse/errors';
import { UsageErrorCode } from './error-codes';

export interface QuotaExceededDetails {
  reason: typeof UsageErrorCode.QUOTA_EXCEEDED;
  metric: string;
  limit: number;
  /** Usage already counted this period (the refused quantity is not included). */
  used: number;
  /** Seconds until the period ends and the counter starts again (at least 1). */
  retryAfterSeconds: number;
  /** ISO 8601 end of the current period. */
  resetsAt: string;
}

/** The plan's limit for a metric would be exceeded. REST answers 429 with `Retry-After: retryAfterSeconds`. */
export class QuotaExceededError extends AppError {
  declare readonly details: QuotaExceededDetails;
  readonly retryAfterSeconds: number;

  constructor(details: Omit<QuotaExceededDetails, 'reason'>, options: Pick<AppErrorOptions, 'cause'> = {}) {
    super(ErrorCode.QUOTA_EXCEEDED, `The ${details.metric} quota of this billing period is used up`, {
      ...options,
      details: { reason: UsageErrorCode.QUOTA_EXCEEDED, ...details },
    });
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** No subscription to count usage against (FORBIDDEN, reason NO_SUBSCRIPTION). */
export class NoSubscriptionError extends AppError {
  constructor() {
    super(ErrorCode.FORBIDDEN, 'A subscription is required to record usage', {
      details: { reason: UsageErrorCode.NO_SUBSCRIPTION },
    });
  }
}

/** The plan limits other metrics but not this one (BAD_USER_INPUT, reason UNKNOWN_METRIC). */
export class UnknownMetricError extends AppError {
  constructor(metric: string) {
    super(ErrorCode.BAD_USER_INPUT, `Unknown usage metric: ${metric}`, {
      details: { reason: UsageErrorCode.UNKNOWN_METRIC, metric },
    });
  }
}

/** The idempotency key was used before for other usage (CONFLICT, reason IDEMPOTENCY_KEY_REUSED). */
export class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super(ErrorCode.CONFLICT, 'This idempotency key was already used for a different usage report', {
      details: { reason: UsageErrorCode.IDEMPOTENCY_KEY_REUSED },
    });
  }
}
