import { ConflictError, NotFoundError, ValidationError } from '@gatehouse/errors';
import { z } from 'zod';
import type { BillingRecipients } from '../notifications/billing-recipients';
import type { PaymentProvider } from '../stripe';
import type { ChargingService } from './charging.service';
import { PaymentMethodInUseError, PaymentMethodNotFoundError } from './error-codes';
import type {
  PaymentMethodRepository,
  PaymentMethodRow,
  PaymentMethodWriteUnit,
} from './payment-method.repository';
import type { PaymentActor, PaymentMethodView, PaymentsLogger } from './types';

export interface PaymentMethodServiceDeps {
  paymentMethods: PaymentMethodRepository;
  /** The user's e-mail address, given to the provider with a new customer. */
  recipients: BillingRecipients;
  provider: PaymentProvider;
  logger: PaymentsLogger;
  /** Provider name stored on rows. Default `stripe`. */
  providerName?: string;
  /**
   * With it, a past-due or suspended subscriber who adds a card is charged for the open renewal at once (not at
   * the next dunning date); a success reactivates the subscription through the payment listener.
   */
  charging?: Pick<ChargingService, 'chargeInvoice'>;
}

/** Subscriptions in these states need a way to pay: their only payment method cannot be removed. */
export const LIVE_SUBSCRIPTION_STATUSES = ['ACTIVE', 'TRIALING', 'PAST_DUE'] as const;

export interface PaymentMethodService {
  /**
   * Saves a client-tokenized card (`pm_...` from Stripe.js): ensures the provider customer (BillingCustomer row),
   * attaches the token, stores brand/last4/expiry only. The user's first method becomes the default. Adding the
   * same provider method again returns it. Then retries the open renewal of a lapsed subscription with it (see
   * {@link PaymentMethodServiceDeps.charging}); a failed retry is logged, the card stays added.
   * @throws ValidationError (malformed or unknown token), AppError PAYMENT_FAILED (declined on attach),
   *   ServiceUnavailableError (provider down).
   */
  add(userId: string, token: string, actor?: PaymentActor): Promise<PaymentMethodView>;
  /** The user's methods, default first, then newest first. */
  list(userId: string): Promise<PaymentMethodView[]>;
  /** @throws PaymentMethodNotFoundError when the method is not the user's. */
  setDefault(userId: string, paymentMethodId: string, actor?: PaymentActor): Promise<PaymentMethodView>;
  /**
   * Deletes the method and detaches it at the provider; when it was the default, the newest remaining one
   * becomes the default.
   * @throws PaymentMethodInUseError while it is the user's only method and they have an ACTIVE, TRIALING or
   *   PAST_DUE subscription; PaymentMethodNotFoundError.
   */
  remove(userId: string, paymentMethodId: string, actor?: PaymentActor): Promise<PaymentMethodView>;
  /** The user's default method id (ours), or null. */
  defaultFor(userId: string): Promise<string | null>;
  /** Whether the method (our id) belongs to the user. */
  belongsTo(userId: string, paymentMethodId: string): Promise<boolean>;
}

const tokenSchema = z
  .string()
  .trim()
  .regex(/^pm_[A-Za-z0-9_]{1,200}$/, 'must be a payment method id (pm_...)');
const uuid = z.uuid();

function toView(row: PaymentMethodRow): PaymentMethodView {
  return {
    id: row.id,
    userId: row.userId,
    brand: row.brand,
    last4: row.last4,
    expMonth: row.expMonth,
    expYear: row.expYear,
    isDefault: row.isDefault,
    createdAt: row.createdAt,
  };
}

export function createPaymentMethodService(deps: PaymentMethodServiceDeps): PaymentMethodService {
  const { paymentMethods, provider, logger } = deps;
  const providerName = deps.providerName ?? 'stripe';

  const auditFields = (userId: string, actor: PaymentActor = {}) => ({
    actorUserId: userId,
    impersonatorUserId: actor.impersonatorUserId ?? null,
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
    requestId: actor.requestId ?? null,
  });

  /** The provider customer of the user, created on first use (idempotent at the provider too). */
  async function ensureCustomer(userId: string): Promise<string> {
    const existing = await paymentMethods.findCustomerId(userId);
    if (existing !== null) return existing;
    const user = await deps.recipients.find(userId);
    if (user === null) throw new NotFoundError('User not found');
    const { customerId } = await provider.createCustomer({ userId, email: user.email });
    // Concurrent first adds get the same customer from the provider (idempotency key): one row either way.
    await paymentMethods.insertCustomerIfAbsent({
      userId,
      provider: providerName,
      providerCustomerId: customerId,
    });
    return paymentMethods.customerIdOf(userId);
  }

  async function add(userId: string, token: string, actor?: PaymentActor): Promise<PaymentMethodView> {
    const method = await addMethod(userId, token, actor);
    await retryOpenRenewal(userId, method.id);
    return method;
  }

  async function retryOpenRenewal(userId: string, paymentMethodId: string): Promise<void> {
    if (!deps.charging) return;
    const openInvoiceId = await paymentMethods.findOpenRenewalOfLapsed(userId);
    if (!openInvoiceId) return;
    try {
      // With the card just added: the default one is the card that kept failing.
      await deps.charging.chargeInvoice(openInvoiceId, { paymentMethodId });
    } catch (err) {
      logger.warn({ err, invoiceId: openInvoiceId }, 'retry after a new payment method failed');
    }
  }

  async function addMethod(userId: string, token: string, actor?: PaymentActor): Promise<PaymentMethodView> {
    const parsed = tokenSchema.safeParse(token);
    if (!parsed.success) {
      throw ValidationError.fromZod({ issues: parsed.error.issues.map((i) => ({ ...i, path: ['token'] })) });
    }
    if (!uuid.safeParse(userId).success) throw new NotFoundError('User not found');
    const customerId = await ensureCustomer(userId);
    const card = await provider.attachPaymentMethod(customerId, parsed.data);

    return paymentMethods.transaction(async (unit) => {
      await unit.lockUserMethods(userId);
      const same = await unit.findByProviderId(card.providerPaymentMethodId);
      if (same) {
        if (same.userId !== userId) throw new ConflictError('This payment method belongs to another account');
        return toView(same);
      }
      const others = await unit.countOfUser(userId);
      const row = await unit.insert({
        userId,
        provider: providerName,
        providerPaymentMethodId: card.providerPaymentMethodId,
        brand: card.brand,
        last4: card.last4,
        expMonth: card.expMonth,
        expYear: card.expYear,
        isDefault: others === 0,
      });
      await unit.audit({
        ...auditFields(userId, actor),
        action: 'PAYMENT_METHOD_ADDED',
        outcome: 'SUCCESS',
        targetType: 'PaymentMethod',
        targetId: row.id,
        metadata: { brand: row.brand, last4: row.last4, isDefault: row.isDefault },
      });
      return toView(row);
    });
  }

  async function list(userId: string): Promise<PaymentMethodView[]> {
    if (!uuid.safeParse(userId).success) return [];
    const rows = await paymentMethods.listForUser(userId);
    return rows.map(toView);
  }

  async function owned(
    unit: PaymentMethodWriteUnit,
    userId: string,
    paymentMethodId: string,
  ): Promise<PaymentMethodRow> {
    if (!uuid.safeParse(paymentMethodId).success || !uuid.safeParse(userId).success) {
      throw new PaymentMethodNotFoundError();
    }
    const row = await unit.findForUser(userId, paymentMethodId);
    if (!row) throw new PaymentMethodNotFoundError();
    return row;
  }

  async function setDefault(
    userId: string,
    paymentMethodId: string,
    actor?: PaymentActor,
  ): Promise<PaymentMethodView> {
    return paymentMethods.transaction(async (unit) => {
      await unit.lockUserMethods(userId);
      const row = await owned(unit, userId, paymentMethodId);
      if (row.isDefault) return toView(row);
      const updated = await unit.makeDefault(userId, row.id);
      await unit.audit({
        ...auditFields(userId, actor),
        action: 'PAYMENT_METHOD_DEFAULT_CHANGED',
        outcome: 'SUCCESS',
        targetType: 'PaymentMethod',
        targetId: row.id,
      });
      return toView(updated);
    });
  }

  async function remove(
    userId: string,
    paymentMethodId: string,
    actor?: PaymentActor,
  ): Promise<PaymentMethodView> {
    const removed = await paymentMethods.transaction(async (unit) => {
      await unit.lockUserMethods(userId);
      const row = await owned(unit, userId, paymentMethodId);
      const count = await unit.countOfUser(userId);
      if (count === 1) {
        const live = await unit.countSubscriptions(userId, LIVE_SUBSCRIPTION_STATUSES);
        if (live > 0) throw new PaymentMethodInUseError();
      }
      await unit.delete(row.id);
      if (row.isDefault) await unit.promoteNewest(userId);
      await unit.audit({
        ...auditFields(userId, actor),
        action: 'PAYMENT_METHOD_REMOVED',
        outcome: 'SUCCESS',
        targetType: 'PaymentMethod',
        targetId: row.id,
        metadata: { brand: row.brand, last4: row.last4, wasDefault: row.isDefault },
      });
      return row;
    });
    // After the commit: a detach failure leaves an unused card at the provider, never a row we cannot charge.
    await provider.detachPaymentMethod(removed.providerPaymentMethodId).catch((err: unknown) => {
      logger.warn({ err, paymentMethodId: removed.id }, 'payment method detach failed at the provider');
    });
    return toView(removed);
  }

  async function defaultFor(userId: string): Promise<string | null> {
    if (!uuid.safeParse(userId).success) return null;
    return paymentMethods.defaultIdFor(userId);
  }

  async function belongsTo(userId: string, paymentMethodId: string): Promise<boolean> {
    if (!uuid.safeParse(userId).success || !uuid.safeParse(paymentMethodId).success) return false;
    return (await paymentMethods.countOwned(userId, paymentMethodId)) > 0;
  }

  return { add, list, setDefault, remove, defaultFor, belongsTo };
}
