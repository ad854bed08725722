/**
 * Reasons (`extensions.details.reason`) only the subscription lifecycle raises, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them.
 */
export const SubscriptionErrorCode = {
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
  PAYMENT_METHOD_REQUIRED: 'PAYMENT_METHOD_REQUIRED',
  /**
   * CONFLICT: the plan family's free trial was taken while this subscribe was under way (one per user and family;
   * normally a used trial just means the subscription starts paid). Subscribing again starts it paid.
   */
  TRIAL_ALREADY_USED: 'TRIAL_ALREADY_USED',
  PAYMENT_FAILED: 'PAYMENT_FAILED',
} as const;

export type SubscriptionErrorCode = (typeof SubscriptionErrorCode)[keyof typeof SubscriptionErrorCode];
