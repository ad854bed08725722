import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import type {
  Invoice,
  InvoiceBillingReason,
  InvoiceStatus,
  Payment,
  PaymentStatus,
  Prisma,
  PrismaClient,
} from '@gatehouse/db';
import type { PaymentAuditAction } from './types';

/** A payment as stored. */
export type PaymentRow = Payment;
/** The invoice a payment collects, as stored. */
export type PaymentInvoiceRow = Invoice;

/** What an attempt charges: our method id and the provider's. */
export interface ChargeMethod {
  id: string;
  providerPaymentMethodId: string;
}

export interface NewPaymentRow {
  userId: string;
  invoiceId: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
  attemptCount: number;
  idempotencyKey: string;
  paymentMethodId?: string | null;
}

export interface PaymentChanges {
  status?: PaymentStatus;
  attemptCount?: number;
  paymentMethodId?: string | null;
  providerPaymentId?: string | null;
  succeededAt?: Date;
  nextAttemptAt?: Date | null;
  failureCode?: string | null;
  failureReason?: string | null;
}

/**
 * The writes of charging and settling payments, inside one transaction of the billing write unit
 * (`billing.repository.ts`): the subscription lifecycle and outbound webhook deliveries write in the same one.
 */
export interface PaymentWriteUnit {
  /**
   * Records a provider event id; false when it was recorded already (a redelivery). A concurrent duplicate waits
   * on the unique key until the first transaction ends.
   */
  recordProviderEvent(provider: string, eventId: string, eventType: string): Promise<boolean>;
  /**
   * Locks the payment row for the rest of the transaction (every state change goes through this). Its invoice
   * row is locked first: charging locks invoice → payment, so every path takes the two locks in that order.
   * Null when there is no such payment.
   */
  lock(paymentId: string): Promise<PaymentRow | null>;
  findIdByProviderPaymentId(providerPaymentId: string): Promise<string | null>;
  findOrThrow(paymentId: string): Promise<PaymentRow>;
  /** Moves `provider_event_at` forward to `eventAt` (never back). */
  markProviderEventTime(paymentId: string, eventAt: Date): Promise<void>;
  update(paymentId: string, changes: PaymentChanges): Promise<PaymentRow>;
  insert(row: NewPaymentRow): Promise<PaymentRow>;
  isIdempotencyKeyTaken(idempotencyKey: string): Promise<boolean>;
  /**
   * Locks the invoice row (`FOR UPDATE`), which serialises every charge of the invoice; null when there is none.
   */
  lockInvoice(invoiceId: string): Promise<PaymentInvoiceRow | null>;
  invoiceStatus(invoiceId: string): Promise<InvoiceStatus | null>;
  invoiceBillingReason(invoiceId: string): Promise<InvoiceBillingReason | null>;
  /** OPEN → PAID with `amount` paid; false when the invoice was not OPEN. */
  markInvoicePaid(invoiceId: string, amount: number, at: Date): Promise<boolean>;
  /** The invoice's newest payment that is not CANCELED. */
  findCurrentOfInvoice(invoiceId: string): Promise<PaymentRow | null>;
  /**
   * Claims FAILED/PENDING payments due at `at` (FOR UPDATE SKIP LOCKED: concurrent runs take different rows),
   * oldest due first, at most `limit`.
   */
  claimDue(at: Date, limit: number): Promise<string[]>;
  findOwnedMethod(userId: string, methodId: string): Promise<ChargeMethod | null>;
  /** The user's default method, else the newest; null without any. */
  findDefaultMethod(userId: string): Promise<ChargeMethod | null>;
  findMethod(methodId: string): Promise<ChargeMethod | null>;
  /** The user's provider customer id; null before the first payment method. */
  findCustomerId(userId: string): Promise<string | null>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: AuditEntry<PaymentAuditAction>): Promise<void>;
}

/** The payment reads outside a transaction (the writes are in {@link PaymentWriteUnit}). */
export interface PaymentRepository {
  /** Newest first. */
  listForUser(userId: string, take: number): Promise<PaymentRow[]>;
}

const METHOD_SELECT = {
  id: true,
  providerPaymentMethodId: true,
} as const satisfies Prisma.PaymentMethodSelect;

/** The payment writes of one transaction of the billing write unit. */
export function createPaymentWriteUnit(tx: Prisma.TransactionClient): PaymentWriteUnit {
  const audit = createAuditWriter<PaymentAuditAction>(tx);
  return {
    async recordProviderEvent(provider, eventId, eventType) {
      const inserted = await tx.$executeRaw`
        INSERT INTO processed_provider_events (provider, event_id, event_type)
        VALUES (${provider}, ${eventId}, ${eventType})
        ON CONFLICT (provider, event_id) DO NOTHING`;
      return inserted !== 0;
    },
    async lock(paymentId) {
      // A payment's invoice never changes, so reading it before taking the locks is safe.
      const owner = await tx.payment.findUnique({ where: { id: paymentId }, select: { invoiceId: true } });
      if (!owner) return null;
      if (owner.invoiceId) {
        await tx.$queryRaw`SELECT id FROM invoices WHERE id = ${owner.invoiceId}::uuid FOR UPDATE`;
      }
      const rows = await tx.$queryRaw<
        Array<{ id: string }>
      >`SELECT id FROM payments WHERE id = ${paymentId}::uuid FOR UPDATE`;
      if (rows.length === 0) return null;
      return tx.payment.findUnique({ where: { id: paymentId } });
    },
    async findIdByProviderPaymentId(providerPaymentId) {
      const row = await tx.payment.findUnique({ where: { providerPaymentId }, select: { id: true } });
      return row?.id ?? null;
    },
    findOrThrow: (paymentId) => tx.payment.findUniqueOrThrow({ where: { id: paymentId } }),
    async markProviderEventTime(paymentId, eventAt) {
      await tx.payment.updateMany({
        where: {
          id: paymentId,
          OR: [{ providerEventAt: null }, { providerEventAt: { lt: eventAt } }],
        },
        data: { providerEventAt: eventAt },
      });
    },
    update: (paymentId, changes) => tx.payment.update({ where: { id: paymentId }, data: changes }),
    insert: (row) => tx.payment.create({ data: row }),
    async isIdempotencyKeyTaken(idempotencyKey) {
      const clash = await tx.payment.findUnique({ where: { idempotencyKey }, select: { invoiceId: true } });
      return clash !== null;
    },
    async lockInvoice(invoiceId) {
      const locked = await tx.$queryRaw<Array<{ id: string }>>`
        SELECT id FROM invoices WHERE id = ${invoiceId}::uuid FOR UPDATE`;
      if (locked.length === 0) return null;
      return tx.invoice.findUniqueOrThrow({ where: { id: invoiceId } });
    },
    async invoiceStatus(invoiceId) {
      const invoice = await tx.invoice.findUnique({ where: { id: invoiceId }, select: { status: true } });
      return invoice?.status ?? null;
    },
    async invoiceBillingReason(invoiceId) {
      const invoice = await tx.invoice.findUnique({
        where: { id: invoiceId },
        select: { billingReason: true },
      });
      return invoice?.billingReason ?? null;
    },
    async markInvoicePaid(invoiceId, amount, at) {
      const paid = await tx.invoice.updateMany({
        where: { id: invoiceId, status: 'OPEN' },
        data: { status: 'PAID', amountPaid: { increment: amount }, amountDue: 0, paidAt: at },
      });
      return paid.count > 0;
    },
    findCurrentOfInvoice: (invoiceId) =>
      tx.payment.findFirst({
        where: { invoiceId, status: { not: 'CANCELED' } },
        orderBy: { createdAt: 'desc' },
      }),
    async claimDue(at, limit) {
      const due = await tx.$queryRaw<Array<{ id: string }>>`
        SELECT id FROM payments
        WHERE status IN ('FAILED', 'PENDING') AND next_attempt_at <= ${at}
        ORDER BY next_attempt_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED`;
      return due.map((row) => row.id);
    },
    findOwnedMethod: (userId, methodId) =>
      tx.paymentMethod.findFirst({ where: { id: methodId, userId }, select: METHOD_SELECT }),
    findDefaultMethod: (userId) =>
      tx.paymentMethod.findFirst({
        where: { userId },
        orderBy: [{ isDefault: 'desc' }, { createdAt: 'desc' }],
        select: METHOD_SELECT,
      }),
    findMethod: (methodId) => tx.paymentMethod.findUnique({ where: { id: methodId }, select: METHOD_SELECT }),
    async findCustomerId(userId) {
      const customer = await tx.billingCustomer.findUnique({
        where: { userId },
        select: { providerCustomerId: true },
      });
      return customer?.providerCustomerId ?? null;
    },
    audit: (entry) => audit.record(entry),
  };
}

export function createPaymentRepository(prisma: PrismaClient): PaymentRepository {
  return {
    listForUser: (userId, take) =>
      prisma.payment.findMany({ where: { userId }, orderBy: { createdAt: 'desc' }, take }),
  };
}
