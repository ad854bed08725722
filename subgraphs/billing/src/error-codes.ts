/**
 * Reasons the billing subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them.
 */
export const BillingErrorCode = {
  /** A subscription refers to a plan that no longer exists (data integrity problem; logged). */
  PLAN_MISSING: 'PLAN_MISSING',
} as const;

export type BillingErrorCode = (typeof BillingErrorCode)[keyof typeof BillingErrorCode];
