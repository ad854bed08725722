export type { CardDetails, ChargeInput, ChargeResult, PaymentProvider } from './payment-provider';
export {
  PaymentMethodDeclinedError,
  PaymentMethodInvalidError,
  PaymentProviderErrorReason,
  PaymentProviderUnavailableError,
} from './provider-errors';
export { createStripeClient, createStripeProvider, type StripeProviderOptions } from './stripe-provider';
export { unconfiguredProvider } from './unconfigured-provider';
