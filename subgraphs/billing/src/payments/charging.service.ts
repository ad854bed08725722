import type { InvoiceBillingReason } from '@gatehouse/db';
import { ValidationError } from '@gatehouse/errors';
import { z } from 'zod';
import type { ChargeResult, PaymentProvider } from '../stripe';
import {
  IdempotencyKeyReusedError,
  InvoiceNotFoundError,
  InvoiceNotPayableError,
  LocalFailureCode,
  PaymentMethodNotFoundError,
} from './error-codes';
import {
  createPaymentSettlement,
  DEFAULT_RETRYABLE_BILLING_REASONS,
  noEffects,
  runEffects,
  toPaymentView,
  type PaymentSettlement,
  type SettlementEffects,
} from './payment-settlement';
import type { SettlementOptions } from './payment-settlement';
import type { BillingStore, BillingWriteUnit } from '../billing.repository';
import type { ChargeMethod, PaymentRepository, PaymentRow } from './payment.repository';
import type {
  PaymentDomainEvent,
  PaymentListener,
  PaymentNotice,
  PaymentView,
  PaymentsLogger,
} from './types';

export interface ChargingServiceDeps {
  /** The transactions a charge runs in (payment, invoice, subscription and delivery writes together). */
  billing: BillingStore;
  payments: PaymentRepository;
  provider: PaymentProvider;
  listener: PaymentListener;
  logger: PaymentsLogger;
  /** Default: the system clock. */
  now?: () => Date;
  /** After commit: `payment.succeeded` / `payment.failed` (the lead connects the event bus and webhooks). */
  publish?: (event: PaymentDomainEvent) => Promise<void>;
  /** After commit: one notice per failed attempt (the lead connects mail). */
  notify?: (notice: PaymentNotice) => Promise<void>;
  /**
   * Invoices whose failed payments are retried on the dunning schedule. Default SUBSCRIPTION_CYCLE and MANUAL:
   * first invoices and plan changes are charged while the user waits, and their caller voids them on failure.
   */
  retryableBillingReasons?: readonly InvoiceBillingReason[];
  /** Stores each payment event in the settling transaction (outbound webhooks): see SettlementOptions. */
  persistEvent?: SettlementOptions['persistEvent'];
  /**
   * How long an attempt may stay PENDING (provider call in flight) before {@link ChargingService.retryDuePayments}
   * repeats the same call (same idempotency key, so the provider returns the original outcome). Default 15 min.
   */
  inFlightLeaseMs?: number;
}

export interface ChargeInvoiceOptions {
  /** Names the payment of this invoice (default `invoice:<invoiceId>`): a retry with it returns the same payment. */
  idempotencyKey?: string;
  /** Our payment method id (must be the invoice owner's). Default: the owner's default method. */
  paymentMethodId?: string;
}

export interface RetryDueResult {
  attempted: number;
  succeeded: number;
  failed: number;
  /** Payments dropped because their invoice is no longer OPEN (voided, or paid another way). */
  canceled: number;
}

export interface ChargingService {
  /**
   * Collects an OPEN invoice: one Payment row per invoice (PENDING → SUCCEEDED/FAILED/PROCESSING), an off-session
   * provider charge keyed `<payment key>:attempt:<n>`, and on success the invoice marked PAID in the same
   * transaction as the payment. Idempotent and safe concurrently: a second call for the same invoice returns the
   * same payment (while in flight it repeats the same provider call, which the provider deduplicates); a PAID
   * invoice returns its succeeded payment. Calling it on a FAILED payment (e.g. after the user added a new card)
   * makes the next attempt now. Zero-amount invoices are marked PAID with a zero SUCCEEDED payment, no provider call.
   * @throws InvoiceNotFoundError, InvoiceNotPayableError (VOID/DRAFT/UNCOLLECTIBLE), PaymentMethodNotFoundError,
   *   PaymentProviderUnavailableError (the payment stays PENDING and is retried by retryDuePayments).
   */
  chargeInvoice(invoiceId: string, options?: ChargeInvoiceOptions): Promise<PaymentView>;
  /**
   * The dunning job: makes the next attempt of every FAILED payment whose `nextAttemptAt` is due (and repeats
   * PENDING attempts whose lease expired). Rows are claimed with FOR UPDATE SKIP LOCKED and moved to PENDING with a
   * lease in the claiming transaction, so concurrent runs never attempt the same payment twice.
   */
  retryDuePayments(at?: Date, options?: { limit?: number }): Promise<RetryDueResult>;
  /** The user's payments, newest first. */
  listForUser(userId: string, options?: { limit?: number }): Promise<PaymentView[]>;
}

const uuid = z.uuid();
const chargeOptionsSchema = z
  .object({
    idempotencyKey: z.string().min(1).max(200).optional(),
    paymentMethodId: z.uuid().optional(),
  })
  .strict();

/** A claimed attempt: what to send to the provider. */
interface Attempt {
  payment: PaymentRow;
  attempt: number;
  customerId: string;
  providerPaymentMethodId: string;
}

type Claim = { kind: 'call'; call: Attempt } | { kind: 'done'; payment: PaymentRow };

export function createChargingService(deps: ChargingServiceDeps): ChargingService {
  const { billing, payments, provider, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const leaseMs = deps.inFlightLeaseMs ?? 15 * 60 * 1000;
  const settlement: PaymentSettlement = createPaymentSettlement({
    listener: deps.listener,
    logger,
    retryableBillingReasons: deps.retryableBillingReasons ?? DEFAULT_RETRYABLE_BILLING_REASONS,
    ...(deps.persistEvent ? { persistEvent: deps.persistEvent } : {}),
  });
  const after = (effects: SettlementEffects) =>
    runEffects(effects, { publish: deps.publish, notify: deps.notify, logger });

  /** The payment method an attempt uses: the requested one, else the user's default. */
  async function pickMethod(
    unit: BillingWriteUnit,
    userId: string,
    requested: string | undefined,
  ): Promise<ChargeMethod | null> {
    if (requested) {
      const method = await unit.payments.findOwnedMethod(userId, requested);
      if (!method) throw new PaymentMethodNotFoundError();
      return method;
    }
    return unit.payments.findDefaultMethod(userId);
  }

  /**
   * Moves `payment` to PENDING for attempt `attempt` with method `method`, under a lease; or, when the user has no
   * usable method or customer, records the failed attempt at once (no provider call).
   */
  async function startAttempt(
    unit: BillingWriteUnit,
    payment: PaymentRow,
    attempt: number,
    method: ChargeMethod | null,
    at: Date,
    effects: SettlementEffects,
  ): Promise<Claim> {
    const customerId = await unit.payments.findCustomerId(payment.userId);
    if (!method || customerId === null) {
      const failed = await settlement.fail(
        unit,
        payment,
        {
          attempt,
          providerPaymentId: null,
          failureCode: LocalFailureCode.PAYMENT_METHOD_REQUIRED,
          failureMessage: 'No payment method on file.',
          at,
        },
        effects,
      );
      return { kind: 'done', payment: failed };
    }
    const pending = await unit.payments.update(payment.id, {
      status: 'PENDING',
      attemptCount: attempt,
      paymentMethodId: method.id,
      nextAttemptAt: new Date(at.getTime() + leaseMs),
    });
    return {
      kind: 'call',
      call: {
        payment: pending,
        attempt,
        customerId,
        providerPaymentMethodId: method.providerPaymentMethodId,
      },
    };
  }

  /** Repeats an in-flight attempt exactly (same method, same key): the provider replays its first answer. */
  async function resumeAttempt(
    unit: BillingWriteUnit,
    payment: PaymentRow,
    at: Date,
    effects: SettlementEffects,
  ): Promise<Claim> {
    const method = payment.paymentMethodId ? await unit.payments.findMethod(payment.paymentMethodId) : null;
    if (!method) {
      // The card was removed while the attempt was in flight; a webhook reconciles it if it was charged anyway.
      return startAttempt(unit, payment, payment.attemptCount, null, at, effects);
    }
    return startAttempt(unit, payment, payment.attemptCount, method, at, effects);
  }

  async function claimInvoice(
    invoiceId: string,
    options: ChargeInvoiceOptions,
    effects: SettlementEffects,
  ): Promise<Claim> {
    return billing.transaction(async (unit) => {
      const at = now();
      // The invoice row lock serialises every charge of this invoice: one payment row, one attempt at a time.
      const invoice = await unit.payments.lockInvoice(invoiceId);
      if (!invoice) throw new InvoiceNotFoundError();
      const existing = await unit.payments.findCurrentOfInvoice(invoiceId);

      if (invoice.status === 'PAID') {
        if (existing?.status === 'SUCCEEDED' || existing?.status === 'REFUNDED') {
          return { kind: 'done', payment: existing };
        }
        throw new InvoiceNotPayableError(invoice.status);
      }
      if (invoice.status !== 'OPEN') throw new InvoiceNotPayableError(invoice.status);

      if (existing) {
        switch (existing.status) {
          case 'PENDING':
            return resumeAttempt(unit, existing, at, effects);
          case 'FAILED':
            return startAttempt(
              unit,
              existing,
              existing.attemptCount + 1,
              await pickMethod(unit, invoice.userId, options.paymentMethodId),
              at,
              effects,
            );
          default:
            // PROCESSING (a webhook settles it) or SUCCEEDED.
            return { kind: 'done', payment: existing };
        }
      }

      const idempotencyKey = options.idempotencyKey ?? `invoice:${invoiceId}`;
      if (await unit.payments.isIdempotencyKeyTaken(idempotencyKey)) throw new IdempotencyKeyReusedError();

      if (invoice.amountDue === 0) {
        const payment = await unit.payments.insert({
          userId: invoice.userId,
          invoiceId,
          amount: 0,
          currency: invoice.currency,
          status: 'PENDING',
          attemptCount: 1,
          idempotencyKey,
        });
        const paid = await settlement.succeed(unit, payment, { providerPaymentId: null, at }, effects);
        return { kind: 'done', payment: paid };
      }

      const method = await pickMethod(unit, invoice.userId, options.paymentMethodId);
      const payment = await unit.payments.insert({
        userId: invoice.userId,
        invoiceId,
        amount: invoice.amountDue,
        currency: invoice.currency,
        status: 'PENDING',
        attemptCount: 0,
        idempotencyKey,
        paymentMethodId: method?.id ?? null,
      });
      return startAttempt(unit, payment, 1, method, at, effects);
    });
  }

  /** Calls the provider for a claimed attempt and records the outcome (unless a webhook got there first). */
  async function execute(call: Attempt, effects: SettlementEffects): Promise<PaymentRow> {
    const { payment, attempt } = call;
    const result: ChargeResult = await provider.charge({
      customerId: call.customerId,
      paymentMethodId: call.providerPaymentMethodId,
      amount: payment.amount,
      currency: payment.currency,
      idempotencyKey: `${payment.idempotencyKey}:attempt:${attempt}`,
      metadata: {
        payment_id: payment.id,
        invoice_id: payment.invoiceId ?? '',
        user_id: payment.userId,
        attempt: String(attempt),
      },
    });
    return billing.transaction(async (unit) => {
      const current = await unit.payments.lock(payment.id);
      if (!current) throw new Error(`payment ${payment.id} vanished`);
      // Settled meanwhile (a webhook, or a concurrent caller with the same attempt): keep its result.
      if (current.status !== 'PENDING' || current.attemptCount !== attempt) return current;
      const at = now();
      switch (result.status) {
        case 'succeeded':
          return settlement.succeed(
            unit,
            current,
            { providerPaymentId: result.providerPaymentId, at },
            effects,
          );
        case 'processing':
          return settlement.processing(unit, current, result.providerPaymentId);
        case 'failed':
          return settlement.fail(
            unit,
            current,
            {
              attempt,
              providerPaymentId: result.providerPaymentId,
              failureCode: result.failureCode,
              failureMessage: result.failureMessage,
              at,
            },
            effects,
          );
      }
    });
  }

  async function chargeInvoice(invoiceId: string, options: ChargeInvoiceOptions = {}): Promise<PaymentView> {
    if (!uuid.safeParse(invoiceId).success) throw new InvoiceNotFoundError();
    const parsed = chargeOptionsSchema.safeParse(options);
    if (!parsed.success) throw ValidationError.fromZod(parsed.error);
    const effects = noEffects();
    try {
      const claim = await claimInvoice(invoiceId, parsed.data, effects);
      const payment = claim.kind === 'done' ? claim.payment : await execute(claim.call, effects);
      return toPaymentView(payment);
    } finally {
      await after(effects);
    }
  }

  async function retryDuePayments(
    at: Date = now(),
    options: { limit?: number } = {},
  ): Promise<RetryDueResult> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const result: RetryDueResult = { attempted: 0, succeeded: 0, failed: 0, canceled: 0 };
    const claimEffects = noEffects();
    const calls = await billing.transaction(async (unit) => {
      const due = await unit.payments.claimDue(at, limit);
      const claimed: Attempt[] = [];
      for (const id of due) {
        const payment = await unit.payments.findOrThrow(id);
        const invoiceStatus = payment.invoiceId ? await unit.payments.invoiceStatus(payment.invoiceId) : null;
        if (invoiceStatus !== 'OPEN') {
          await unit.payments.update(id, { status: 'CANCELED', nextAttemptAt: null });
          await unit.payments.audit({
            action: 'PAYMENT_CANCELED',
            outcome: 'SUCCESS',
            actorUserId: payment.userId,
            targetType: 'Payment',
            targetId: id,
            metadata: { invoiceId: payment.invoiceId, invoiceStatus },
          });
          result.canceled++;
          continue;
        }
        const claim =
          payment.status === 'PENDING'
            ? await resumeAttempt(unit, payment, at, claimEffects)
            : await startAttempt(
                unit,
                payment,
                payment.attemptCount + 1,
                await pickMethod(unit, payment.userId, undefined),
                at,
                claimEffects,
              );
        result.attempted++;
        if (claim.kind === 'call') claimed.push(claim.call);
        else if (claim.payment.status === 'FAILED') result.failed++;
      }
      return claimed;
    });
    await after(claimEffects);

    for (const call of calls) {
      const effects = noEffects();
      try {
        const payment = await execute(call, effects);
        if (payment.status === 'SUCCEEDED') result.succeeded++;
        else if (payment.status === 'FAILED') result.failed++;
      } catch (err) {
        // Left PENDING under its lease: the next run repeats the same call.
        logger.warn({ err, paymentId: call.payment.id }, 'payment retry failed; will repeat after the lease');
      } finally {
        await after(effects);
      }
    }
    if (result.attempted + result.canceled > 0) logger.info({ ...result }, 'dunning run');
    return result;
  }

  async function listForUser(userId: string, options: { limit?: number } = {}): Promise<PaymentView[]> {
    if (!uuid.safeParse(userId).success) return [];
    const rows = await payments.listForUser(userId, Math.min(Math.max(options.limit ?? 50, 1), 200));
    return rows.map(toPaymentView);
  }

  return { chargeInvoice, retryDuePayments, listForUser };
}
