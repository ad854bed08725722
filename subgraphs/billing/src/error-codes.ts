/**
 * Reasons the billing subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`, that more than one billing feature raises. Stable across releases: clients may switch on them.
 * A feature's own reasons are in its folder's `error-codes.ts` (subscriptions/, plans/, payments/, usage/, ...).
 */
export const BillingErrorCode = {
  /** A subscription refers to a plan that no longer exists (data integrity problem; logged). */
  PLAN_MISSING: 'PLAN_MISSING',
  // Subscribing, changing plans and plan administration. (A doc comment here would become the reason's client docs.)
  PLAN_NOT_FOUND: 'PLAN_NOT_FOUND',
  // Subscribing with a payment method; the payment-method flows raise it too (payments/error-codes.ts).
  PAYMENT_METHOD_NOT_FOUND: 'PAYMENT_METHOD_NOT_FOUND',
} as const;

export type BillingErrorCode = (typeof BillingErrorCode)[keyof typeof BillingErrorCode];
