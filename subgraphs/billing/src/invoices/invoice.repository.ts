import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import type { Prisma, PrismaClient } from '@gatehouse/db';
import { keysetAfter, type KeysetPosition } from '@gatehouse/service';
import { formatInvoiceNumber } from './invoice-number';
import type { InvoiceBillingReason, InvoiceLineRow, InvoiceRow, InvoiceStatus } from './invoice.types';

/** A line as written: a stored line without its id. */
export type NewInvoiceLine = Omit<InvoiceLineRow, 'id'>;

export interface NewInvoice {
  number: string;
  userId: string;
  subscriptionId: string | null;
  status: InvoiceStatus;
  billingReason: InvoiceBillingReason;
  idempotencyKey: string;
  currency: string;
  subtotalAmount: number;
  taxRateBps: number;
  taxAmount: number;
  creditApplied: number;
  totalAmount: number;
  amountPaid: number;
  amountDue: number;
  periodStart: Date | null;
  periodEnd: Date | null;
  dueAt: Date | null;
  paidAt: Date | null;
  createdAt: Date;
  /** Stored in this order (`position`), each created at `createdAt`. */
  lines: NewInvoiceLine[];
}

/**
 * The writes of issuing one invoice, inside one transaction of the billing write unit (`billing.repository.ts`):
 * the subscription lifecycle issues invoices in the transaction that changes the subscription.
 */
export interface InvoiceWriteUnit {
  /** Same-key creators wait here for each other until the transaction ends (advisory lock). */
  lockIdempotencyKey(idempotencyKey: string): Promise<void>;
  findByIdempotencyKey(idempotencyKey: string): Promise<InvoiceRow | null>;
  /**
   * Locks the customer's row (`FOR UPDATE`) until the transaction ends, so two invoices created at once never
   * spend the same credit; null when the user is no billing customer.
   */
  lockCredit(userId: string): Promise<{ creditBalance: number; currency: string | null } | null>;
  /**
   * Takes the next number of `year`. The upsert locks the year's `invoice_number_sequences` row until the
   * transaction ends, so concurrent invoices queue behind each other; a transaction that rolls back also rolls
   * back its increment, which keeps the numbers free of gaps (unlike a Postgres SEQUENCE). The first invoice of
   * a year creates the row (`ON CONFLICT` makes racing creators wait for each other instead of failing).
   */
  nextNumber(year: number): Promise<{ number: string; sequence: number }>;
  insert(invoice: NewInvoice): Promise<InvoiceRow>;
  /** Takes `amount` off the customer's credit balance; the balance after. */
  spendCredit(userId: string, amount: number): Promise<number>;
  /** OPEN → VOID: an invoice nobody will pay (its charge failed while the user waited), left alone by dunning. */
  voidIfOpen(invoiceId: string): Promise<void>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: AuditEntry): Promise<void>;
}

export interface InvoiceRepository {
  findById(invoiceId: string): Promise<InvoiceRow | null>;
  findForUser(userId: string, invoiceId: string): Promise<InvoiceRow | null>;
  /** The user's invoices newest first (`createdAt`, then `id`), after `position`, at most `take`. */
  listForUser(
    userId: string,
    options: { status: InvoiceStatus | null; position: KeysetPosition | undefined; take: number },
  ): Promise<InvoiceRow[]>;
  /** The user's country as a billing customer, null when unknown. */
  customerCountryOf(userId: string): Promise<string | null>;
  setPdfObjectKey(invoiceId: string, key: string): Promise<void>;
}

const invoiceInclude = {
  lineItems: { orderBy: [{ position: 'asc' }, { id: 'asc' }] },
} satisfies Prisma.InvoiceInclude;

type InvoiceWithLines = Prisma.InvoiceGetPayload<{ include: typeof invoiceInclude }>;

function toRow(invoice: InvoiceWithLines): InvoiceRow {
  return {
    id: invoice.id,
    number: invoice.number,
    userId: invoice.userId,
    subscriptionId: invoice.subscriptionId,
    status: invoice.status,
    billingReason: invoice.billingReason,
    currency: invoice.currency,
    subtotalAmount: invoice.subtotalAmount,
    taxRateBps: invoice.taxRateBps,
    taxAmount: invoice.taxAmount,
    totalAmount: invoice.totalAmount,
    creditApplied: invoice.creditApplied,
    amountPaid: invoice.amountPaid,
    amountDue: invoice.amountDue,
    periodStart: invoice.periodStart,
    periodEnd: invoice.periodEnd,
    dueAt: invoice.dueAt,
    paidAt: invoice.paidAt,
    pdfObjectKey: invoice.pdfObjectKey,
    createdAt: invoice.createdAt,
    lines: invoice.lineItems.map((line) => ({
      id: line.id,
      kind: line.kind,
      description: line.description,
      quantity: line.quantity,
      unitAmount: line.unitAmount,
      amount: line.amount,
      planId: line.planId,
      periodStart: line.periodStart,
      periodEnd: line.periodEnd,
    })),
  };
}

/** The invoice writes of one transaction of the billing write unit. */
export function createInvoiceWriteUnit(tx: Prisma.TransactionClient): InvoiceWriteUnit {
  const audit = createAuditWriter(tx);
  return {
    async lockIdempotencyKey(idempotencyKey) {
      await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${`invoice:${idempotencyKey}`}, 0))`;
    },
    async findByIdempotencyKey(idempotencyKey) {
      const invoice = await tx.invoice.findUnique({ where: { idempotencyKey }, include: invoiceInclude });
      return invoice ? toRow(invoice) : null;
    },
    async lockCredit(userId) {
      const [customer] = await tx.$queryRaw<{ credit_balance: number; currency: string | null }[]>`
        SELECT credit_balance, currency FROM billing_customers WHERE user_id = ${userId}::uuid FOR UPDATE`;
      return customer ? { creditBalance: customer.credit_balance, currency: customer.currency } : null;
    },
    async nextNumber(year) {
      const rows = await tx.$queryRaw<{ last_value: number }[]>`
        INSERT INTO invoice_number_sequences (year, last_value) VALUES (${year}, 1)
        ON CONFLICT (year) DO UPDATE SET last_value = invoice_number_sequences.last_value + 1
        RETURNING last_value`;
      const sequence = Number(rows[0]?.last_value);
      if (!Number.isSafeInteger(sequence) || sequence < 1)
        throw new Error('invoice number sequence returned nothing');
      return { number: formatInvoiceNumber(year, sequence), sequence };
    },
    async insert({ lines, ...invoice }) {
      const created = await tx.invoice.create({
        data: {
          ...invoice,
          lineItems: {
            create: lines.map((line, index) => ({
              position: index,
              ...line,
              createdAt: invoice.createdAt,
            })),
          },
        },
        include: invoiceInclude,
      });
      return toRow(created);
    },
    async spendCredit(userId, amount) {
      const updated = await tx.billingCustomer.update({
        where: { userId },
        data: { creditBalance: { decrement: amount } },
        select: { creditBalance: true },
      });
      return updated.creditBalance;
    },
    async voidIfOpen(invoiceId) {
      await tx.invoice.updateMany({ where: { id: invoiceId, status: 'OPEN' }, data: { status: 'VOID' } });
    },
    audit: (entry) => audit.record(entry),
  };
}

export function createInvoiceRepository(prisma: PrismaClient): InvoiceRepository {
  return {
    async findById(invoiceId) {
      const invoice = await prisma.invoice.findUnique({ where: { id: invoiceId }, include: invoiceInclude });
      return invoice ? toRow(invoice) : null;
    },
    async findForUser(userId, invoiceId) {
      const invoice = await prisma.invoice.findFirst({
        where: { id: invoiceId, userId },
        include: invoiceInclude,
      });
      return invoice ? toRow(invoice) : null;
    },
    async listForUser(userId, { status, position, take }) {
      const rows = await prisma.invoice.findMany({
        where: {
          userId,
          ...(status ? { status } : {}),
          ...keysetAfter(position),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take,
        include: invoiceInclude,
      });
      return rows.map(toRow);
    },
    async customerCountryOf(userId) {
      const customer = await prisma.billingCustomer.findUnique({
        where: { userId },
        select: { country: true },
      });
      return customer?.country ?? null;
    },
    async setPdfObjectKey(invoiceId, key) {
      await prisma.invoice.update({ where: { id: invoiceId }, data: { pdfObjectKey: key } });
    },
  };
}
