export {
  createBillingNotifier,
  type BillingBusEvent,
  type BillingNotifier,
  type BillingNotifierDeps,
} from './billing-notifier';
export type { BillingRecipient, BillingRecipients } from './billing-recipients';
export { createBillingRecipientRepository } from './billing-recipient.repository';
