import type { PrismaClient } from '@gatehouse/db';
import { createInvoiceWriteUnit, type InvoiceWriteUnit } from './invoices/invoice.repository';
import {
  createWebhookDeliveryFanOutUnit,
  type WebhookDeliveryFanOutUnit,
} from './outbound-webhooks/webhook-delivery.repository';
import { createPaymentWriteUnit, type PaymentWriteUnit } from './payments/payment.repository';
import {
  createSubscriptionWriteUnit,
  type SubscriptionWriteUnit,
} from './subscriptions/subscription.repository';

/**
 * The writes of one billing transaction. A subscription change issues its invoice in it; a payment's outcome moves
 * the subscription and records its outbound webhook deliveries in it: all of them commit together or not at all.
 */
export interface BillingWriteUnit {
  subscriptions: SubscriptionWriteUnit;
  payments: PaymentWriteUnit;
  invoices: InvoiceWriteUnit;
  webhookDeliveries: WebhookDeliveryFanOutUnit;
}

/** How long a transaction may wait for a connection and run (Prisma's defaults when omitted). */
export interface BillingTransactionOptions {
  maxWait?: number;
  timeout?: number;
}

export interface BillingStore {
  /** Runs `work` in one transaction, every unit bound to it. */
  transaction<T>(
    work: (unit: BillingWriteUnit) => Promise<T>,
    options?: BillingTransactionOptions,
  ): Promise<T>;
}

export function createBillingStore(prisma: PrismaClient): BillingStore {
  return {
    transaction: (work, options) =>
      prisma.$transaction(
        (tx) =>
          work({
            subscriptions: createSubscriptionWriteUnit(tx),
            payments: createPaymentWriteUnit(tx),
            invoices: createInvoiceWriteUnit(tx),
            webhookDeliveries: createWebhookDeliveryFanOutUnit(tx),
          }),
        options,
      ),
  };
}
