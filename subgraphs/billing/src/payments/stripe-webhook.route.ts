import type { InvoiceBillingReason } from '@gatehouse/db';
import { createRestRoute, RestError, RestErrorCode, type RouteHandler } from '@gatehouse/service';
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
import type { BillingStore, BillingWriteUnit } from '../billing.repository';
import type { PaymentRow } from './payment.repository';
import type { PaymentDomainEvent, PaymentListener, PaymentNotice, PaymentsLogger } from './types';

/** Where Stripe posts events. */
export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';
/** Stripe events are a few KiB; anything larger is not from Stripe. */
const MAX_BODY_BYTES = 512 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `error` values of the webhook's JSON error bodies besides the skeleton's (METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE,
 * INTERNAL_SERVER_ERROR). Stable across releases. Stripe reads only the status: 4xx is final, 5xx is retried.
 */
export const StripeWebhookErrorCode = {
  /** 400: the `Stripe-Signature` is missing or does not verify over the raw body. */
  STRIPE_SIGNATURE_INVALID: 'STRIPE_SIGNATURE_INVALID',
} as const;

export interface StripeWebhookRouteOptions {
  billing: BillingStore;
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
 * - Errors are JSON `{ error, message }`: 400 `STRIPE_SIGNATURE_INVALID`, 405 `METHOD_NOT_ALLOWED`,
 *   413 `PAYLOAD_TOO_LARGE` (over 512 KiB), 500 `INTERNAL_SERVER_ERROR`.
 *
 * Handled: `payment_intent.succeeded` (reconciles a PENDING/PROCESSING payment, or one whose answer was lost, and
 * marks the invoice PAID), `payment_intent.payment_failed` (the current attempt of a PENDING/PROCESSING payment
 * fails, dunning scheduled), `charge.refunded` (payment REFUNDED, invoice stays PAID). Other types: 200, recorded.
 */
export function createStripeWebhookRoute(options: StripeWebhookRouteOptions): RouteHandler {
  const { billing, provider, logger } = options;
  const now = options.now ?? (() => new Date());
  const settlement: PaymentSettlement = createPaymentSettlement({
    listener: options.listener,
    logger,
    retryableBillingReasons: options.retryableBillingReasons ?? DEFAULT_RETRYABLE_BILLING_REASONS,
    ...(options.persistEvent ? { persistEvent: options.persistEvent } : {}),
  });

  /** The payment an event is about, locked; null when it is not ours. */
  async function findPayment(
    unit: BillingWriteUnit,
    paymentId: string | null,
    providerPaymentId: string | null,
  ): Promise<PaymentRow | null> {
    if (paymentId) {
      const byId = await unit.payments.lock(paymentId);
      if (byId) return byId;
    }
    if (!providerPaymentId) return null;
    const id = await unit.payments.findIdByProviderPaymentId(providerPaymentId);
    return id ? unit.payments.lock(id) : null;
  }

  /** Older than what this payment already applied: a late delivery. */
  const isStale = (payment: PaymentRow, eventAt: Date) =>
    payment.providerEventAt !== null && eventAt.getTime() < payment.providerEventAt.getTime();

  async function paymentIntentSucceeded(
    unit: BillingWriteUnit,
    pi: Stripe.PaymentIntent,
    eventAt: Date,
    effects: SettlementEffects,
  ): Promise<Handling> {
    const meta = ourMetadata(pi);
    const payment = await findPayment(unit, meta.paymentId, pi.id);
    if (!payment || isStale(payment, eventAt)) return 'ignored';
    await unit.payments.markProviderEventTime(payment.id, eventAt);
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
    unit: BillingWriteUnit,
    pi: Stripe.PaymentIntent,
    eventAt: Date,
    effects: SettlementEffects,
  ): Promise<Handling> {
    const meta = ourMetadata(pi);
    const payment = await findPayment(unit, meta.paymentId, pi.id);
    if (!payment || isStale(payment, eventAt)) return 'ignored';
    await unit.payments.markProviderEventTime(payment.id, eventAt);
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
    unit: BillingWriteUnit,
    charge: Stripe.Charge,
    eventAt: Date,
    effects: SettlementEffects,
  ): Promise<Handling> {
    const piId =
      typeof charge.payment_intent === 'string' ? charge.payment_intent : (charge.payment_intent?.id ?? null);
    const meta = ourMetadata(charge);
    const payment = await findPayment(unit, meta.paymentId, piId);
    if (!payment || isStale(payment, eventAt)) return 'ignored';
    await unit.payments.markProviderEventTime(payment.id, eventAt);
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
    return billing.transaction(async (unit) => {
      // A concurrent duplicate blocks on the unique key until this commits, then inserts nothing.
      if (!(await unit.payments.recordProviderEvent('stripe', event.id, event.type))) return 'duplicate';
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

  return createRestRoute({
    name: 'stripe webhook',
    path: STRIPE_WEBHOOK_PATH,
    methods: ['POST'],
    logger,
    // No caller authentication: the signature over the raw body is the authority.
    body: { maxBytes: MAX_BODY_BYTES, kind: 'raw' },
    async handle({ req, requestId, body }) {
      const signature = req.headers['stripe-signature'];
      let event: Stripe.Event;
      try {
        if (typeof signature !== 'string' || signature === '') throw new Error('missing Stripe-Signature');
        event = provider.verifyWebhook(body ?? Buffer.alloc(0), signature);
      } catch (err) {
        logger.warn(
          { requestId, reason: err instanceof Error ? err.message : 'invalid' },
          'stripe webhook refused',
        );
        throw new RestError(400, StripeWebhookErrorCode.STRIPE_SIGNATURE_INVALID, 'Invalid signature');
      }

      const effects = noEffects();
      let handling: Handling;
      try {
        handling = await handle(event, effects);
      } catch (err) {
        // Rolled back, event id not recorded: Stripe retries and the retry redoes the work. Always 500, even for an
        // AppError: a 4xx would tell Stripe to stop retrying.
        logger.error({ err, requestId, eventId: event.id, type: event.type }, 'stripe webhook failed');
        throw new RestError(500, RestErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
      }
      logger.info({ requestId, eventId: event.id, type: event.type, handling }, 'stripe webhook');
      // Committed: publish and notify (failures are logged, never turned into a retry of committed work), then 200.
      await runEffects(effects, { publish: options.publish, notify: options.notify, logger });
      return { status: 200, json: { received: true, handling } };
    },
  });
}
