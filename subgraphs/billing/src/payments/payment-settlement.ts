import type { InvoiceBillingReason, Prisma } from '@gatehouse/db';
import type { BillingWriteUnit } from '../billing.repository';
import type { PaymentRow } from './payment.repository';
import { nextAttemptAfterFailure } from './dunning';
import type {
  AfterCommit,
  PaymentDomainEvent,
  PaymentEvent,
  PaymentListener,
  PaymentNotice,
  PaymentView,
  PaymentsLogger,
} from './types';

/** Work to do once the transaction committed: events to publish, mails to send. */
export interface SettlementEffects {
  events: PaymentDomainEvent[];
  notices: PaymentNotice[];
  /** The listener's after-commit work. */
  after: AfterCommit[];
}

export const noEffects = (): SettlementEffects => ({ events: [], notices: [], after: [] });

/** Invoices created while the user waits (first invoice, plan change): their caller handles a failure at once. */
export const DEFAULT_RETRYABLE_BILLING_REASONS: readonly InvoiceBillingReason[] = [
  'SUBSCRIPTION_CYCLE',
  'MANUAL',
];

export interface SettlementOptions {
  listener: PaymentListener;
  logger: PaymentsLogger;
  retryableBillingReasons: readonly InvoiceBillingReason[];
  /**
   * Stores an event in the settling transaction (outbound webhook deliveries), so it commits with the payment and
   * cannot be lost between commit and publish. Publishing to live listeners still happens after commit.
   */
  persistEvent?: (event: PaymentDomainEvent, unit: BillingWriteUnit) => Promise<void>;
}

export function toPaymentView(row: PaymentRow): PaymentView {
  return {
    id: row.id,
    userId: row.userId,
    invoiceId: row.invoiceId,
    paymentMethodId: row.paymentMethodId,
    amount: row.amount,
    currency: row.currency,
    status: row.status,
    attemptCount: row.attemptCount,
    nextAttemptAt: row.nextAttemptAt,
    failureCode: row.failureCode,
    failureReason: row.failureReason,
    providerPaymentId: row.providerPaymentId,
    succeededAt: row.succeededAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function paymentEvent(payment: PaymentRow, attempt: number): PaymentEvent {
  return {
    paymentId: payment.id,
    invoiceId: payment.invoiceId ?? '',
    userId: payment.userId,
    amount: payment.amount,
    currency: payment.currency,
    attempt,
  };
}

function eventData(payment: PaymentRow, extra: Prisma.InputJsonObject = {}): Prisma.InputJsonObject {
  return {
    paymentId: payment.id,
    invoiceId: payment.invoiceId,
    amount: payment.amount,
    currency: payment.currency,
    status: payment.status,
    attempt: payment.attemptCount,
    ...extra,
  };
}

/**
 * The state transitions of a payment, shared by the synchronous charge path and the Stripe webhook, always inside
 * the caller's transaction with the payment row locked (`unit.payments.lock`) so whichever path comes second sees
 * the first one's result and does nothing.
 */
export function createPaymentSettlement(options: SettlementOptions) {
  const { listener, logger, retryableBillingReasons } = options;

  /** Queues an event for after commit and, when configured, stores it in this transaction. */
  async function emit(
    unit: BillingWriteUnit,
    effects: SettlementEffects,
    event: PaymentDomainEvent,
  ): Promise<void> {
    effects.events.push(event);
    await options.persistEvent?.(event, unit);
  }

  /**
   * Money was collected: payment SUCCEEDED, invoice OPEN → PAID (amountPaid, amountDue 0, paidAt), listener,
   * audit; `payment.succeeded` after commit.
   */
  async function succeed(
    unit: BillingWriteUnit,
    payment: PaymentRow,
    input: { providerPaymentId: string | null; at: Date; attempt?: number },
    effects: SettlementEffects,
  ): Promise<PaymentRow> {
    const attempt = input.attempt ?? payment.attemptCount;
    const updated = await unit.payments.update(payment.id, {
      status: 'SUCCEEDED',
      providerPaymentId: input.providerPaymentId ?? payment.providerPaymentId,
      succeededAt: input.at,
      nextAttemptAt: null,
      failureCode: null,
      failureReason: null,
      attemptCount: Math.max(attempt, payment.attemptCount),
    });
    if (payment.invoiceId) {
      const paid = await unit.payments.markInvoicePaid(payment.invoiceId, payment.amount, input.at);
      if (!paid) {
        // E.g. the invoice was voided while a processing payment settled: the money needs a manual refund.
        logger.error(
          { paymentId: payment.id, invoiceId: payment.invoiceId },
          'payment succeeded for an invoice that is not open',
        );
      }
      const follow = await listener.onPaymentSucceeded(paymentEvent(updated, updated.attemptCount), unit);
      if (follow) effects.after.push(follow);
    }
    await unit.payments.audit({
      action: 'PAYMENT_SUCCEEDED',
      outcome: 'SUCCESS',
      actorUserId: payment.userId,
      targetType: 'Payment',
      targetId: payment.id,
      at: input.at,
      metadata: {
        invoiceId: payment.invoiceId,
        amount: payment.amount,
        currency: payment.currency,
        attempt: updated.attemptCount,
        providerPaymentId: updated.providerPaymentId,
      },
    });
    await emit(unit, effects, {
      id: `payment.succeeded:${payment.id}`,
      type: 'payment.succeeded',
      userId: payment.userId,
      data: eventData(updated, { succeededAt: input.at.toISOString() }),
      createdAt: input.at,
    });
    return updated;
  }

  /**
   * An attempt failed: payment FAILED with the reason and the next dunning attempt (none when final), listener,
   * audit; `payment.failed` and the failure mail after commit.
   */
  async function fail(
    unit: BillingWriteUnit,
    payment: PaymentRow,
    input: {
      attempt: number;
      providerPaymentId: string | null;
      failureCode: string;
      failureMessage: string;
      at: Date;
    },
    effects: SettlementEffects,
  ): Promise<PaymentRow> {
    const billingReason = payment.invoiceId
      ? await unit.payments.invoiceBillingReason(payment.invoiceId)
      : null;
    const retryable = billingReason !== null && retryableBillingReasons.includes(billingReason);
    const nextAttemptAt = retryable ? nextAttemptAfterFailure(input.attempt, input.at) : null;
    const final = nextAttemptAt === null;
    const updated = await unit.payments.update(payment.id, {
      status: 'FAILED',
      attemptCount: input.attempt,
      providerPaymentId: input.providerPaymentId ?? payment.providerPaymentId,
      failureCode: input.failureCode.slice(0, 100),
      failureReason: input.failureMessage.slice(0, 500),
      nextAttemptAt,
    });
    if (payment.invoiceId) {
      const follow = await listener.onPaymentFailed(
        { ...paymentEvent(updated, input.attempt), final, nextAttemptAt, failureReason: input.failureCode },
        unit,
      );
      if (follow) effects.after.push(follow);
    }
    await unit.payments.audit({
      action: 'PAYMENT_FAILED',
      outcome: 'FAILURE',
      actorUserId: payment.userId,
      targetType: 'Payment',
      targetId: payment.id,
      at: input.at,
      metadata: {
        invoiceId: payment.invoiceId,
        amount: payment.amount,
        currency: payment.currency,
        attempt: input.attempt,
        failureCode: input.failureCode,
        final,
        nextAttemptAt: nextAttemptAt?.toISOString() ?? null,
      },
    });
    await emit(unit, effects, {
      id: `payment.failed:${payment.id}:${input.attempt}`,
      type: 'payment.failed',
      userId: payment.userId,
      data: eventData(updated, {
        failureCode: input.failureCode,
        final,
        nextAttemptAt: nextAttemptAt?.toISOString() ?? null,
      }),
      createdAt: input.at,
    });
    if (payment.invoiceId) {
      effects.notices.push({
        template: 'payment-failed',
        userId: payment.userId,
        paymentId: payment.id,
        invoiceId: payment.invoiceId,
        amount: payment.amount,
        currency: payment.currency,
        attempt: input.attempt,
        final,
        nextAttemptAt,
        failureReason: input.failureCode,
      });
    }
    return updated;
  }

  /** The provider answered `processing`: a webhook settles it. */
  async function processing(
    unit: BillingWriteUnit,
    payment: PaymentRow,
    providerPaymentId: string,
  ): Promise<PaymentRow> {
    return unit.payments.update(payment.id, { status: 'PROCESSING', providerPaymentId, nextAttemptAt: null });
  }

  /** A full refund: payment REFUNDED (the invoice stays PAID), audit, `payment.refunded` after commit. */
  async function refund(
    unit: BillingWriteUnit,
    payment: PaymentRow,
    input: { amountRefunded: number; full: boolean; at: Date },
    effects: SettlementEffects,
  ): Promise<PaymentRow> {
    const updated = input.full ? await unit.payments.update(payment.id, { status: 'REFUNDED' }) : payment;
    await unit.payments.audit({
      action: input.full ? 'PAYMENT_REFUNDED' : 'PAYMENT_PARTIALLY_REFUNDED',
      outcome: 'SUCCESS',
      actorUserId: payment.userId,
      targetType: 'Payment',
      targetId: payment.id,
      at: input.at,
      metadata: {
        invoiceId: payment.invoiceId,
        amount: payment.amount,
        amountRefunded: input.amountRefunded,
        currency: payment.currency,
      },
    });
    if (input.full) {
      await emit(unit, effects, {
        id: `payment.refunded:${payment.id}`,
        type: 'payment.refunded',
        userId: payment.userId,
        data: eventData(updated, { amountRefunded: input.amountRefunded }),
        createdAt: input.at,
      });
    }
    return updated;
  }

  return { succeed, fail, processing, refund };
}

export type PaymentSettlement = ReturnType<typeof createPaymentSettlement>;

/** Runs the post-commit effects; a failing publisher or mailer is logged, never undoes the committed payment. */
export async function runEffects(
  effects: SettlementEffects,
  deps: {
    publish?: (event: PaymentDomainEvent) => Promise<void>;
    notify?: (notice: PaymentNotice) => Promise<void>;
    logger: PaymentsLogger;
  },
): Promise<void> {
  for (const event of effects.events) {
    await deps.publish?.(event).catch((err: unknown) => {
      deps.logger.error({ err, eventId: event.id, type: event.type }, 'payment event publish failed');
    });
  }
  for (const notice of effects.notices) {
    await deps.notify?.(notice).catch((err: unknown) => {
      deps.logger.error({ err, paymentId: notice.paymentId }, 'payment notice failed');
    });
  }
  for (const follow of effects.after) {
    await follow().catch((err: unknown) => {
      deps.logger.error({ err }, 'payment follow-up failed');
    });
  }
}
