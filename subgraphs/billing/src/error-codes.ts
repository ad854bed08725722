/**
 * Reasons the billing subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them.
 */
export const BillingErrorCode = {
  /** A subscription refers to a plan that no longer exists (data integrity problem; logged). */
  PLAN_MISSING: 'PLAN_MISSING',
  PLAN_NOT_FOUND: 'PLAN_NOT_FOUND',
  /** The plans differ in currency or billing interval: no mid-period switch between them. */
  PLAN_NOT_COMPATIBLE: 'PLAN_NOT_COMPATIBLE',
  SAME_PLAN: 'SAME_PLAN',
  NO_SUBSCRIPTION: 'NO_SUBSCRIPTION',
  SUBSCRIPTION_EXISTS: 'SUBSCRIPTION_EXISTS',
  /** Past due or suspended: the open payment must succeed first. */
  SUBSCRIPTION_NOT_ACTIVE: 'SUBSCRIPTION_NOT_ACTIVE',
  NOT_CANCELED: 'NOT_CANCELED',
  /** The period just ended and the renewal job has not moved the subscription on yet. */
  RENEWAL_IN_PROGRESS: 'RENEWAL_IN_PROGRESS',
  PAYMENT_METHOD_NOT_FOUND: 'PAYMENT_METHOD_NOT_FOUND',
  PAYMENT_METHOD_REQUIRED: 'PAYMENT_METHOD_REQUIRED',
  /**
   * CONFLICT: the plan family's free trial was taken while this subscribe was under way (one per user and family;
   * normally a used trial just means the subscription starts paid). Subscribing again starts it paid.
   */
  TRIAL_ALREADY_USED: 'TRIAL_ALREADY_USED',
  PAYMENT_FAILED: 'PAYMENT_FAILED',
  PLAN_CODE_TAKEN: 'PLAN_CODE_TAKEN',
} as const;

export type BillingErrorCode = (typeof BillingErrorCode)[keyof typeof BillingErrorCode];
