import type { InvoiceBillingReason, Prisma } from '@gatehouse/db';

/**
 * What the subscription lifecycle needs from the invoice and payment modules. Declared here (structurally) so the
 * lifecycle can be read and tested on its own; `runtime.ts` hands it the real services.
 */

export interface LifecycleInvoiceLine {
  kind: 'SUBSCRIPTION' | 'PRORATION' | 'CREDIT';
  description: string;
  quantity?: number;
  unitAmount: number;
  planId?: string;
  periodStart?: Date;
  periodEnd?: Date;
}

export interface LifecycleInvoice {
  id: string;
  status: string;
  amountDue: number;
  totalAmount: number;
  currency: string;
}

export interface LifecycleInvoices {
  create(
    tx: Prisma.TransactionClient,
    input: {
      userId: string;
      subscriptionId?: string;
      billingReason: InvoiceBillingReason;
      idempotencyKey: string;
      currency: string;
      lines: LifecycleInvoiceLine[];
      taxRateBps?: number;
      applyCredit?: boolean;
      periodStart?: Date;
      periodEnd?: Date;
      dueAt?: Date;
    },
  ): Promise<LifecycleInvoice>;
}

/** The charge's outcome as far as the lifecycle cares; the payment module records the details. */
export interface LifecycleChargeResult {
  status: 'SUCCEEDED' | 'FAILED' | 'PENDING' | 'PROCESSING' | string;
  failureReason?: string | null;
}

export interface LifecycleCharging {
  /**
   * Collects an OPEN invoice from the user's default payment method (idempotent per invoice). Calls the
   * payment listener in the transaction that records the outcome.
   */
  chargeInvoice(invoiceId: string, options?: { paymentMethodId?: string }): Promise<LifecycleChargeResult>;
}

export interface LifecyclePaymentMethods {
  /** The user's default payment method id (our id), or null when they have none. */
  defaultFor(userId: string): Promise<string | null>;
  /** Whether this payment method (our id) belongs to the user. */
  belongsTo(userId: string, paymentMethodId: string): Promise<boolean>;
}

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
