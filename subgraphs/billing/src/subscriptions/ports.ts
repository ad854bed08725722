import type { InvoiceLineInput, InvoiceRow, InvoiceService } from '../invoices';
import type { ChargingService, PaymentMethodService } from '../payments';

/**
 * What the subscription lifecycle uses of the invoice and payment modules: only these methods, so its tests and
 * readers see the whole dependency at a glance.
 */
export type LifecycleInvoiceLine = InvoiceLineInput;
export type LifecycleInvoice = InvoiceRow;
export type LifecycleInvoices = Pick<InvoiceService, 'create'>;
export type LifecycleCharging = Pick<ChargingService, 'chargeInvoice'>;
export type LifecyclePaymentMethods = Pick<PaymentMethodService, 'defaultFor' | 'belongsTo'>;

/** Domain events the lifecycle emits: the runtime sends them to the event bus and outbound webhooks. */
export interface SubscriptionEvent {
  type: 'subscription.created' | 'subscription.updated' | 'subscription.canceled' | 'subscription.resumed';
  userId: string;
  subscriptionId: string;
  status: string;
  planId: string;
  at: Date;
}

export type SubscriptionNotice =
  | { template: 'subscription-canceled'; userId: string; accessUntil: Date; planName: string }
  | { template: 'subscription-suspended'; userId: string; planName: string };
