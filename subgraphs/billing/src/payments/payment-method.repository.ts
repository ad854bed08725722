import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import type { PaymentMethod, Prisma, PrismaClient, SubscriptionStatus } from '@gatehouse/db';
import type { PaymentAuditAction } from './types';

/** A stored payment method (brand, last4 and expiry only; the card stays at the provider). */
export type PaymentMethodRow = PaymentMethod;

export interface NewPaymentMethodRow {
  userId: string;
  provider: string;
  providerPaymentMethodId: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
  isDefault: boolean;
}

/** The writes of payment-method management, inside one transaction. */
export interface PaymentMethodWriteUnit {
  /** Serialises payment-method changes of one user (first-is-default, only-method checks) across replicas. */
  lockUserMethods(userId: string): Promise<void>;
  findByProviderId(providerPaymentMethodId: string): Promise<PaymentMethodRow | null>;
  findForUser(userId: string, id: string): Promise<PaymentMethodRow | null>;
  countOfUser(userId: string): Promise<number>;
  /** The user's subscriptions in one of `statuses`. */
  countSubscriptions(userId: string, statuses: readonly SubscriptionStatus[]): Promise<number>;
  insert(row: NewPaymentMethodRow): Promise<PaymentMethodRow>;
  /** Clears the user's current default, then makes `id` the default. */
  makeDefault(userId: string, id: string): Promise<PaymentMethodRow>;
  delete(id: string): Promise<void>;
  /** Makes the user's newest method the default (after the default was removed); none when there is none. */
  promoteNewest(userId: string): Promise<void>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: AuditEntry<PaymentAuditAction>): Promise<void>;
}

export interface PaymentMethodRepository {
  /** Runs `work` in one transaction: every write and its audit entry commit together or not at all. */
  transaction<T>(work: (unit: PaymentMethodWriteUnit) => Promise<T>): Promise<T>;
  /** The user's provider customer id, null before the first payment method. */
  findCustomerId(userId: string): Promise<string | null>;
  /** Stores the provider customer unless the user has one already (concurrent first adds: one row). */
  insertCustomerIfAbsent(customer: {
    userId: string;
    provider: string;
    providerCustomerId: string;
  }): Promise<void>;
  /** @throws when the user has no provider customer. */
  customerIdOf(userId: string): Promise<string>;
  /** Default first, then newest first. */
  listForUser(userId: string): Promise<PaymentMethodRow[]>;
  /** The default method's id, else the newest's; null without any. */
  defaultIdFor(userId: string): Promise<string | null>;
  countOwned(userId: string, id: string): Promise<number>;
  /**
   * The newest OPEN renewal invoice of the user's past-due or suspended subscription (what a newly added card is
   * charged for at once); null without one.
   */
  findOpenRenewalOfLapsed(userId: string): Promise<string | null>;
}

function createWriteUnit(tx: Prisma.TransactionClient): PaymentMethodWriteUnit {
  const audit = createAuditWriter<PaymentAuditAction>(tx);
  return {
    async lockUserMethods(userId) {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`billing:payment-methods:${userId}`}))`;
    },
    findByProviderId: (providerPaymentMethodId) =>
      tx.paymentMethod.findUnique({ where: { providerPaymentMethodId } }),
    findForUser: (userId, id) => tx.paymentMethod.findFirst({ where: { id, userId } }),
    countOfUser: (userId) => tx.paymentMethod.count({ where: { userId } }),
    countSubscriptions: (userId, statuses) =>
      tx.subscription.count({ where: { userId, status: { in: [...statuses] } } }),
    insert: (row) => tx.paymentMethod.create({ data: row }),
    async makeDefault(userId, id) {
      await tx.paymentMethod.updateMany({ where: { userId, isDefault: true }, data: { isDefault: false } });
      return tx.paymentMethod.update({ where: { id }, data: { isDefault: true } });
    },
    async delete(id) {
      await tx.paymentMethod.delete({ where: { id } });
    },
    async promoteNewest(userId) {
      const next = await tx.paymentMethod.findFirst({
        where: { userId },
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      });
      if (next) await tx.paymentMethod.update({ where: { id: next.id }, data: { isDefault: true } });
    },
    audit: (entry) => audit.record(entry),
  };
}

export function createPaymentMethodRepository(prisma: PrismaClient): PaymentMethodRepository {
  return {
    transaction: (work) => prisma.$transaction((tx) => work(createWriteUnit(tx))),
    async findCustomerId(userId) {
      const existing = await prisma.billingCustomer.findUnique({ where: { userId } });
      return existing?.providerCustomerId ?? null;
    },
    async insertCustomerIfAbsent(customer) {
      await prisma.billingCustomer.createMany({ data: [customer], skipDuplicates: true });
    },
    async customerIdOf(userId) {
      const row = await prisma.billingCustomer.findUniqueOrThrow({ where: { userId } });
      return row.providerCustomerId;
    },
    listForUser: (userId) =>
      prisma.paymentMethod.findMany({
        where: { userId },
        orderBy: [{ isDefault: 'desc' }, { createdAt: 'desc' }, { id: 'asc' }],
      }),
    async defaultIdFor(userId) {
      const row = await prisma.paymentMethod.findFirst({
        where: { userId },
        orderBy: [{ isDefault: 'desc' }, { createdAt: 'desc' }],
        select: { id: true },
      });
      return row?.id ?? null;
    },
    countOwned: (userId, id) => prisma.paymentMethod.count({ where: { id, userId } }),
    async findOpenRenewalOfLapsed(userId) {
      const open = await prisma.invoice.findFirst({
        where: {
          userId,
          status: 'OPEN',
          billingReason: 'SUBSCRIPTION_CYCLE',
          subscription: { status: { in: ['PAST_DUE', 'SUSPENDED'] } },
        },
        orderBy: { createdAt: 'desc' },
        select: { id: true },
      });
      return open?.id ?? null;
    },
  };
}
