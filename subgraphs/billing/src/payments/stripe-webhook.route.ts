import type { InvoiceBillingReason } from '@gatehouse/db';
import { readBodyUpTo, sendJson, type RouteHandler } from '@gatehouse/service';
import type Stripe from 'stripe';
import type { PaymentProvider } from '../stripe';
import {
  createPaymentSettlement,
  DEFAULT_RETRYABLE_BILLING_REASONS,
  noEffects,
  runEffects,
  type PaymentSettlement,
  type SettlementEffects,
} from './payment-settlement';
import type { SettlementOptions } from './payment-settlement';
import type { PaymentRepository, PaymentRow, PaymentWriteUnit } from './payment.repository';
import type { PaymentDomainEvent, PaymentListener, PaymentNotice, PaymentsLogger } from './types';

/** Where Stripe posts events. */
export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';
/** Stripe events are a few KiB; anything larger is not from Stripe. */
const MAX_BODY_BYTES = 512 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface StripeWebhookRouteOptions {
  payments: PaymentRepository;
  provider: Pick<PaymentProvider, 'verifyWebhook'>;
  listener: PaymentListener;
  logger: PaymentsLogger;
  now?: () => Date;
  publish?: (event: PaymentDomainEvent) => Promise<void>;
  notify?: (notice: PaymentNotice) => Promise<void>;
  /** Same as the charging service's option (they must agree). */
  retryableBillingReasons?: readonly InvoiceBillingReason[];
  /** Stores each payment event in the settling transaction (outbound webhooks): see SettlementOptions. */
  persistEvent?: SettlementOptions['persistEvent'];
}

/** Outcome of one event, for logs and the response body. */
type Handling = 'applied' | 'ignored' | 'duplicate';

/** `metadata` of our PaymentIntents: `payment_id`, `attempt` (see the charging service). */
function ourMetadata(object: { metadata?: Stripe.Metadata | null }): {
  paymentId: string | null;
  attempt: number | null;
} {
  const paymentId = object.metadata?.payment_id;
  const attempt = Number(object.metadata?.attempt);
  return {
    paymentId: paymentId && UUID.test(paymentId) ? paymentId : null,
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : null,
  };
}

/**
 * `POST /webhooks/stripe`: Stripe's event notifications.
 *
 * - The signature is checked over the raw body (`Stripe-Signature`, `constructEvent`): 400 when it does not verify.
 * - Exactly once: the event id is inserted into `processed_provider_events` in the same transaction as the state
 *   change; a redelivery (or a concurrent duplicate, which waits on the unique key) finds it and changes nothing.
 * - Out of order: a payment remembers the `created` time of the newest event applied (`provider_event_at`); older
 *   events are ignored, and states only move forward (a failure never undoes a success; only a refund follows one).
 * - 200 only after the commit; 500 when anything fails (nothing was recorded, so Stripe's retry redoes it).
 *
 * Handled: `payment_intent.succeeded` (reconciles a PENDING/PROCESSING payment, or one whose answer was lost, and
 * marks the invoice PAID), `payment_intent.payment_failed` (the current attempt of a PENDING/PROCESSING payment
 * fails, dunning scheduled), `charge.refunded` (payment REFUNDED, invoice stays PAID). Other types: 200, recorded.
 */
export function createStripeWebhookRoute(options: StripeWebhookRouteOptions): RouteHandler {
  const { payments, provider, logger } = options;
  const now = options.now ?? (() => new Date());
  const settlement: PaymentSettlement = createPaymentSettlement({
    listener: options.listener,
    logger,
    retryableBillingReasons: options.retryableBillingReasons ?? DEFAULT_RETRYABLE_BILLING_REASONS,
    ...(options.persistEvent ? { persistEvent: options.persistEvent } : {}),
  });

  /** The payment an event is about, locked; null when it is not ours. */
  async function findPayment(
    unit: PaymentWriteUnit,
    paymentId: string | null,
    providerPaymentId: string | null,
  ): Promise<PaymentRow | null> {
    if (paymentId) {
      const byId = await unit.lock(paymentId);
      if (byId) return byId;
    }
    if (!providerPaymentId) return null;
    const id = await unit.findIdByProviderPaymentId(providerPaymentId);
    return id ? unit.lock(id) : null;
  }

  /** Older than what this payment already applied: a late delivery. */
  const isStale = (payment: PaymentRow, eventAt: Date) =>
    payment.providerEventAt !== null && eventAt.getTime() < payment.providerEventAt.getTime();

  async function paymentIntentSucceeded(
    unit: PaymentWriteUnit,
    pi: Stripe.PaymentIntent,
    eventAt: Date,
    effects: SettlementEffects,
  ): Promise<Handling> {
    const meta = ourMetadata(pi);
    const payment = await findPayment(unit, meta.paymentId, pi.id);
    if (!payment || isStale(payment, eventAt)) return 'ignored';
    await unit.markProviderEventTime(payment.id, eventAt);
    if (payment.status === 'SUCCEEDED' || payment.status === 'REFUNDED') {
      if (payment.providerPaymentId !== pi.id) {
        // Two attempts of one payment both collected money: needs a refund by hand.
        logger.error(
          { paymentId: payment.id, providerPaymentId: pi.id },
          'second successful provider charge for a settled payment',
        );
      }
      return 'ignored';
    }
    // Money was collected, whatever we had recorded (PENDING with a lost answer, PROCESSING, even FAILED).
    await settlement.succeed(
      unit,
      payment,
      { providerPaymentId: pi.id, at: now(), attempt: meta.attempt ?? payment.attemptCount },
      effects,
    );
    return 'applied';
  }

  async function paymentIntentFailed(
    unit: PaymentWriteUnit,
    pi: Stripe.PaymentIntent,
    eventAt: Date,
    effects: SettlementEffects,
  ): Promise<Handling> {
    const meta = ourMetadata(pi);
    const payment = await findPayment(unit, meta.paymentId, pi.id);
    if (!payment || isStale(payment, eventAt)) return 'ignored';
    await unit.markProviderEventTime(payment.id, eventAt);
    if (payment.status !== 'PENDING' && payment.status !== 'PROCESSING') return 'ignored';
    // Only the attempt in flight may fail: an older attempt's failure says nothing about the current one.
    const attempt = meta.attempt ?? payment.attemptCount;
    const current =
      attempt === payment.attemptCount &&
      (payment.providerPaymentId === null || payment.providerPaymentId === pi.id);
    if (!current) return 'ignored';
    const error = pi.last_payment_error;
    await settlement.fail(
      unit,
      payment,
      {
        attempt,
        providerPaymentId: pi.id,
        failureCode: error?.decline_code ?? error?.code ?? 'payment_failed',
        failureMessage: error?.message ?? 'The payment failed.',
        at: now(),
      },
      effects,
    );
    return 'applied';
  }

  async function chargeRefunded(
    unit: PaymentWriteUnit,
    charge: Stripe.Charge,
    eventAt: Date,
    effects: SettlementEffects,
  ): Promise<Handling> {
    const piId =
      typeof charge.payment_intent === 'string' ? charge.payment_intent : (charge.payment_intent?.id ?? null);
    const meta = ourMetadata(charge);
    const payment = await findPayment(unit, meta.paymentId, piId);
    if (!payment || isStale(payment, eventAt)) return 'ignored';
    await unit.markProviderEventTime(payment.id, eventAt);
    if (payment.status !== 'SUCCEEDED') return 'ignored';
    await settlement.refund(
      unit,
      payment,
      { amountRefunded: charge.amount_refunded, full: charge.refunded, at: now() },
      effects,
    );
    return 'applied';
  }

  async function handle(event: Stripe.Event, effects: SettlementEffects): Promise<Handling> {
    return payments.transaction(async (unit) => {
      // A concurrent duplicate blocks on the unique key until this commits, then inserts nothing.
      if (!(await unit.recordProviderEvent('stripe', event.id, event.type))) return 'duplicate';
      const eventAt = new Date(event.created * 1000);
      switch (event.type) {
        case 'payment_intent.succeeded':
          return paymentIntentSucceeded(unit, event.data.object, eventAt, effects);
        case 'payment_intent.payment_failed':
          return paymentIntentFailed(unit, event.data.object, eventAt, effects);
        case 'charge.refunded':
          return chargeRefunded(unit, event.data.object, eventAt, effects);
        default:
          return 'ignored';
      }
    });
  }

  return async (req, res, requestId) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== STRIPE_WEBHOOK_PATH) return false;
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'Method not allowed' }, { allow: 'POST' });
      return true;
    }
    const raw = await readBodyUpTo(req, MAX_BODY_BYTES);
    if (raw === null) {
      sendJson(res, 413, { error: 'Request body too large' }, { connection: 'close' });
      return true;
    }
    const signature = req.headers['stripe-signature'];
    let event: Stripe.Event;
    try {
      if (typeof signature !== 'string' || signature === '') throw new Error('missing Stripe-Signature');
      event = provider.verifyWebhook(raw, signature);
    } catch (err) {
      logger.warn(
        { requestId, reason: err instanceof Error ? err.message : 'invalid' },
        'stripe webhook refused',
      );
      sendJson(res, 400, { error: 'Invalid signature' });
      return true;
    }

    const effects = noEffects();
    let handling: Handling;
    try {
      handling = await handle(event, effects);
    } catch (err) {
      // Rolled back, event id not recorded: Stripe retries and the retry redoes the work.
      logger.error({ err, requestId, eventId: event.id, type: event.type }, 'stripe webhook failed');
      sendJson(res, 500, { error: 'Internal server error' });
      return true;
    }
    logger.info({ requestId, eventId: event.id, type: event.type, handling }, 'stripe webhook');
    // Committed: publish and notify (failures are logged, never turned into a retry of committed work), then 200.
    await runEffects(effects, { publish: options.publish, notify: options.notify, logger });
    sendJson(res, 200, { received: true, handling });
    return true;
  };
}
