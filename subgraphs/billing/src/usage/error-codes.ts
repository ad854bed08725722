/**
 * Reasons of usage refusals, sent as `extensions.details.reason` next to the generic `extensions.code`
 * (and as `error` in the REST body). Stable across releases.
 */
export const UsageErrorCode = {
  /** QUOTA_EXCEEDED: the quantity would take the metric over the plan's limit for the current period. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** FORBIDDEN: the user has no trialing, active, past-due or suspended subscription to count usage against. */
  NO_SUBSCRIPTION: 'NO_SUBSCRIPTION',
  /** BAD_USER_INPUT: the plan has limits but none for this metric. */
  UNKNOWN_METRIC: 'UNKNOWN_METRIC',
  /** CONFLICT: the idempotency key was already used for a different metric or quantity. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
} as const;

export type UsageErrorCode = (typeof UsageErrorCode)[keyof typeof UsageErrorCode];
