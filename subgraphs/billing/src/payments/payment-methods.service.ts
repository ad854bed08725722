import { createAuditWriter } from '@gatehouse/audit';
import type { PaymentMethod, Prisma, PrismaClient } from '@gatehouse/db';
import { ConflictError, NotFoundError, ValidationError } from '@gatehouse/errors';
import { z } from 'zod';
import type { PaymentProvider } from '../stripe';
import { PaymentMethodInUseError, PaymentMethodNotFoundError } from './error-codes';
import type { PaymentActor, PaymentAuditAction, PaymentMethodView, PaymentsLogger } from './types';

type Tx = Prisma.TransactionClient;

export interface PaymentMethodServiceDeps {
  prisma: PrismaClient;
  provider: PaymentProvider;
  logger: PaymentsLogger;
  /** Provider name stored on rows. Default `stripe`. */
  providerName?: string;
}

/** Subscriptions in these states need a way to pay: their only payment method cannot be removed. */
export const LIVE_SUBSCRIPTION_STATUSES = ['ACTIVE', 'TRIALING', 'PAST_DUE'] as const;

export interface PaymentMethodService {
  /**
   * Saves a client-tokenized card (`pm_...` from Stripe.js): ensures the provider customer (BillingCustomer row),
   * attaches the token, stores brand/last4/expiry only. The user's first method becomes the default. Adding the
   * same provider method again returns it.
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

function toView(row: PaymentMethod): PaymentMethodView {
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

/** Serialises payment-method changes of one user (first-is-default, only-method checks) across replicas. */
async function lockUserMethods(tx: Tx, userId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`billing:payment-methods:${userId}`}))`;
}

export function createPaymentMethodService(deps: PaymentMethodServiceDeps): PaymentMethodService {
  const { prisma, provider, logger } = deps;
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
    const existing = await prisma.billingCustomer.findUnique({ where: { userId } });
    if (existing) return existing.providerCustomerId;
    const user = await prisma.user.findUnique({ where: { id: userId }, select: { email: true } });
    if (!user) throw new NotFoundError('User not found');
    const { customerId } = await provider.createCustomer({ userId, email: user.email });
    // Concurrent first adds get the same customer from the provider (idempotency key): one row either way.
    await prisma.billingCustomer.createMany({
      data: [{ userId, provider: providerName, providerCustomerId: customerId }],
      skipDuplicates: true,
    });
    const row = await prisma.billingCustomer.findUniqueOrThrow({ where: { userId } });
    return row.providerCustomerId;
  }

  async function add(userId: string, token: string, actor?: PaymentActor): Promise<PaymentMethodView> {
    const parsed = tokenSchema.safeParse(token);
    if (!parsed.success) {
      throw ValidationError.fromZod({ issues: parsed.error.issues.map((i) => ({ ...i, path: ['token'] })) });
    }
    if (!uuid.safeParse(userId).success) throw new NotFoundError('User not found');
    const customerId = await ensureCustomer(userId);
    const card = await provider.attachPaymentMethod(customerId, parsed.data);

    return prisma.$transaction(async (tx) => {
      await lockUserMethods(tx, userId);
      const same = await tx.paymentMethod.findUnique({
        where: { providerPaymentMethodId: card.providerPaymentMethodId },
      });
      if (same) {
        if (same.userId !== userId) throw new ConflictError('This payment method belongs to another account');
        return toView(same);
      }
      const others = await tx.paymentMethod.count({ where: { userId } });
      const row = await tx.paymentMethod.create({
        data: {
          userId,
          provider: providerName,
          providerPaymentMethodId: card.providerPaymentMethodId,
          brand: card.brand,
          last4: card.last4,
          expMonth: card.expMonth,
          expYear: card.expYear,
          isDefault: others === 0,
        },
      });
      await createAuditWriter<PaymentAuditAction>(tx).record({
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
    const rows = await prisma.paymentMethod.findMany({
      where: { userId },
      orderBy: [{ isDefault: 'desc' }, { createdAt: 'desc' }, { id: 'asc' }],
    });
    return rows.map(toView);
  }

  async function owned(tx: Tx, userId: string, paymentMethodId: string): Promise<PaymentMethod> {
    if (!uuid.safeParse(paymentMethodId).success || !uuid.safeParse(userId).success) {
      throw new PaymentMethodNotFoundError();
    }
    const row = await tx.paymentMethod.findFirst({ where: { id: paymentMethodId, userId } });
    if (!row) throw new PaymentMethodNotFoundError();
    return row;
  }

  async function setDefault(
    userId: string,
    paymentMethodId: string,
    actor?: PaymentActor,
  ): Promise<PaymentMethodView> {
    return prisma.$transaction(async (tx) => {
      await lockUserMethods(tx, userId);
      const row = await owned(tx, userId, paymentMethodId);
      if (row.isDefault) return toView(row);
      await tx.paymentMethod.updateMany({ where: { userId, isDefault: true }, data: { isDefault: false } });
      const updated = await tx.paymentMethod.update({ where: { id: row.id }, data: { isDefault: true } });
      await createAuditWriter<PaymentAuditAction>(tx).record({
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
    const removed = await prisma.$transaction(async (tx) => {
      await lockUserMethods(tx, userId);
      const row = await owned(tx, userId, paymentMethodId);
      const count = await tx.paymentMethod.count({ where: { userId } });
      if (count === 1) {
        const live = await tx.subscription.count({
          where: { userId, status: { in: [...LIVE_SUBSCRIPTION_STATUSES] } },
        });
        if (live > 0) throw new PaymentMethodInUseError();
      }
      await tx.paymentMethod.delete({ where: { id: row.id } });
      if (row.isDefault) {
        const next = await tx.paymentMethod.findFirst({
          where: { userId },
          orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        });
        if (next) await tx.paymentMethod.update({ where: { id: next.id }, data: { isDefault: true } });
      }
      await createAuditWriter<PaymentAuditAction>(tx).record({
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
    const row = await prisma.paymentMethod.findFirst({
      where: { userId },
      orderBy: [{ isDefault: 'desc' }, { createdAt: 'desc' }],
      select: { id: true },
    });
    return row?.id ?? null;
  }

  async function belongsTo(userId: string, paymentMethodId: string): Promise<boolean> {
    if (!uuid.safeParse(userId).success || !uuid.safeParse(paymentMethodId).success) return false;
    return (await prisma.paymentMethod.count({ where: { id: paymentMethodId, userId } })) > 0;
  }

  return { add, list, setDefault, remove, defaultFor, belongsTo };
}
