export {
  createSubscriptionLifecycle,
  RENEWAL_LEAD_MS,
  trialFamily,
  type AfterCommit,
  type BillingActor,
  type LifecyclePaymentEvent,
  type PlanChangeResult,
  type SubscriptionAuditAction,
  type SubscriptionLifecycle,
  type SubscriptionLifecycleOptions,
} from './lifecycle';
export {
  CURRENT_STATUSES,
  createSubscriptionRepository,
  type SubscriptionRepository,
  type SubscriptionWriteUnit,
} from './subscription.repository';
export type {
  LifecycleCharging,
  LifecycleInvoice,
  LifecycleInvoiceLine,
  LifecycleInvoices,
  LifecyclePaymentMethods,
  SubscriptionEvent,
  SubscriptionNotice,
} from './ports';
export { SubscriptionErrorCode } from './error-codes';
export { createSubscriptionService, type SubscriptionService } from './subscription.service';
