export {
  createChargingService,
  type ChargeInvoiceOptions,
  type ChargingService,
  type ChargingServiceDeps,
  type RetryDueResult,
} from './charging.service';
export { DUNNING_MAX_ATTEMPTS, DUNNING_RETRY_DAYS, nextAttemptAfterFailure } from './dunning';
export {
  IdempotencyKeyReusedError,
  InvoiceNotFoundError,
  InvoiceNotPayableError,
  LocalFailureCode,
  PaymentErrorReason,
  PaymentMethodInUseError,
  PaymentMethodNotFoundError,
} from './error-codes';
export { DEFAULT_RETRYABLE_BILLING_REASONS } from './payment-settlement';
export { createPaymentMethodRepository, type PaymentMethodRepository } from './payment-method.repository';
export { createPaymentRepository, type PaymentRepository, type PaymentWriteUnit } from './payment.repository';
export {
  createPaymentMethodService,
  LIVE_SUBSCRIPTION_STATUSES,
  type PaymentMethodService,
  type PaymentMethodServiceDeps,
} from './payment-methods.service';
export {
  createStripeWebhookRoute,
  STRIPE_WEBHOOK_PATH,
  type StripeWebhookRouteOptions,
} from './stripe-webhook.route';
export type {
  AfterCommit,
  PaymentActor,
  PaymentAuditAction,
  PaymentDomainEvent,
  PaymentEvent,
  PaymentFailedEvent,
  PaymentFailedNotice,
  PaymentListener,
  PaymentMethodView,
  PaymentNotice,
  PaymentsLogger,
  PaymentView,
} from './types';
