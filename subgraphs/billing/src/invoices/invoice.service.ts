import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '@gatehouse/errors';
import { decodeKeysetCursor, encodeKeysetCursor, type KeysetPosition } from '@gatehouse/service';
import type { ObjectStorage } from '@gatehouse/storage';
import { MAX_TAX_RATE_BPS, computeTax } from '../money';
import type { BillingRecipients } from '../notifications/billing-recipients';
import { renderInvoicePdf, type InvoiceSeller } from './invoice-pdf';
import type { InvoiceRepository, InvoiceWriteUnit } from './invoice.repository';
import type { CreateInvoiceInput, InvoicePage, InvoiceRow, ListInvoicesOptions } from './invoice.types';

/** Audit actions written by this module (UPPER_SNAKE, never renamed). */
export const InvoiceAuditAction = {
  INVOICE_CREATED: 'INVOICE_CREATED',
  CUSTOMER_CREDIT_APPLIED: 'CUSTOMER_CREDIT_APPLIED',
} as const;

export const DEFAULT_INVOICE_PAGE_SIZE = 20;
export const MAX_INVOICE_PAGE_SIZE = 100;
/** Signed download links live five minutes: long enough to click, short enough not to be worth forwarding. */
export const DEFAULT_INVOICE_URL_SECONDS = 300;
/** Amount columns are Postgres `integer`. */
const MAX_AMOUNT = 2_147_483_647;

export interface InvoiceServiceLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface InvoiceServiceOptions {
  invoiceRecords: InvoiceRepository;
  /** Who the PDF is addressed to. */
  recipients: BillingRecipients;
  storage: ObjectStorage;
  logger: InvoiceServiceLogger;
  /** Printed on every PDF. */
  seller: InvoiceSeller;
  now?: () => Date;
  /** Lifetime of `downloadUrl` links. Default {@link DEFAULT_INVOICE_URL_SECONDS}. */
  downloadUrlSeconds?: number;
}

export interface InvoiceService {
  /**
   * In the caller's write unit (one transaction): numbers the invoice (`GH-<year>-<000001>`, gap-free per UTC year), computes
   * subtotal, tax (half-up, once per invoice) and total, consumes the customer's credit balance when
   * `applyCredit`, and stores it OPEN, or PAID when nothing is left to pay. Idempotent on `idempotencyKey`:
   * a repeated call returns the existing invoice (concurrent calls with one key wait for each other).
   * @throws ValidationError for malformed input or a negative subtotal (credit the balance instead).
   * @throws ConflictError when the key belongs to another user's invoice.
   */
  create(unit: InvoiceWriteUnit, input: CreateInvoiceInput): Promise<InvoiceRow>;
  /** The user's invoices, newest first, optionally of one status. @throws ValidationError for a bad page request. */
  list(userId: string, options?: ListInvoicesOptions): Promise<InvoicePage>;
  /** The invoice when it belongs to `userId`, else null (another user's invoice is indistinguishable from none). */
  byIdForUser(userId: string, invoiceId: string): Promise<InvoiceRow | null>;
  /** Any invoice, without an owner check: for jobs and administrators. */
  byId(invoiceId: string): Promise<InvoiceRow | null>;
  /**
   * Renders the PDF, stores it (private) under `invoices/<userId>/<invoiceId>.pdf` and records the key.
   * Re-rendering overwrites the object with the same content. @throws NotFoundError for an unknown invoice.
   */
  renderPdf(invoiceId: string): Promise<string>;
  /**
   * A signed, short-lived link to the PDF (rendered first if needed), for the owner only.
   * @throws NotFoundError when the invoice does not exist or belongs to someone else.
   */
  downloadUrl(userId: string, invoiceId: string): Promise<{ url: string; expiresAt: Date }>;
}

/** Object-storage key of an invoice's PDF. */
export function invoicePdfKey(userId: string, invoiceId: string): string {
  return `invoices/${userId}/${invoiceId}.pdf`;
}

const amount = z.number().int().min(-MAX_AMOUNT).max(MAX_AMOUNT);
const date = z.date();

const lineSchema = z
  .object({
    kind: z.enum(['SUBSCRIPTION', 'PRORATION', 'CREDIT']),
    description: z.string().trim().min(1).max(500),
    quantity: z.number().int().min(1).max(1_000_000).default(1),
    unitAmount: amount,
    planId: z.uuid().optional(),
    periodStart: date.optional(),
    periodEnd: date.optional(),
  })
  .refine((line) => line.kind !== 'SUBSCRIPTION' || line.unitAmount >= 0, {
    error: 'a SUBSCRIPTION line must not be negative',
    path: ['unitAmount'],
  })
  .refine((line) => line.kind !== 'CREDIT' || line.unitAmount <= 0, {
    error: 'a CREDIT line must not be positive',
    path: ['unitAmount'],
  });

const createSchema = z.object({
  userId: z.uuid(),
  subscriptionId: z.uuid().optional(),
  billingReason: z.enum(['SUBSCRIPTION_CREATE', 'SUBSCRIPTION_CYCLE', 'SUBSCRIPTION_UPDATE', 'MANUAL']),
  idempotencyKey: z.string().min(1).max(200),
  currency: z.string().regex(/^[A-Z]{3}$/, { error: 'must be an upper-case ISO 4217 code' }),
  lines: z.array(lineSchema).min(1).max(100),
  taxRateBps: z.number().int().min(0).max(MAX_TAX_RATE_BPS).default(0),
  applyCredit: z.boolean().default(false),
  periodStart: date.optional(),
  periodEnd: date.optional(),
  dueAt: date.optional(),
});

const listSchema = z.object({
  first: z.number().int().min(1).max(MAX_INVOICE_PAGE_SIZE).nullish(),
  after: z.string().max(200).nullish(),
  status: z.enum(['DRAFT', 'OPEN', 'PAID', 'VOID', 'UNCOLLECTIBLE']).nullish(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function decodeCursor(cursor: string): KeysetPosition {
  const position = decodeKeysetCursor(cursor);
  if (position) return position;
  throw new ValidationError('Invalid cursor', {
    details: [{ path: 'after', message: 'is not a valid cursor' }],
  });
}

export function createInvoiceService(options: InvoiceServiceOptions): InvoiceService {
  const { invoiceRecords, recipients, storage, logger, seller } = options;

  /** An invoice's owner is never hard-deleted while the invoice exists: a missing one is a broken invariant. */
  async function ownerOf(userId: string) {
    const owner = await recipients.find(userId);
    if (!owner) throw new Error(`invoice owner ${userId} not found`);
    return owner;
  }
  const now = options.now ?? (() => new Date());
  const urlSeconds = options.downloadUrlSeconds ?? DEFAULT_INVOICE_URL_SECONDS;

  async function findOwned(userId: string, invoiceId: string): Promise<InvoiceRow | null> {
    if (!UUID.test(invoiceId) || !UUID.test(userId)) return null;
    return invoiceRecords.findForUser(userId, invoiceId);
  }

  async function renderPdf(invoiceId: string): Promise<string> {
    const invoice = UUID.test(invoiceId) ? await invoiceRecords.findById(invoiceId) : null;
    if (!invoice) throw new NotFoundError('Invoice not found');
    const [user, country] = await Promise.all([
      ownerOf(invoice.userId),
      invoiceRecords.customerCountryOf(invoice.userId),
    ]);
    const pdf = await renderInvoicePdf({
      invoice,
      customer: { email: user.email, name: user.name, country },
      seller,
    });
    const key = invoicePdfKey(invoice.userId, invoice.id);
    await storage.put(key, pdf, { contentType: 'application/pdf' });
    await invoiceRecords.setPdfObjectKey(invoice.id, key);
    logger.info({ invoiceId: invoice.id, bytes: pdf.length }, 'invoice: PDF rendered');
    return key;
  }

  return {
    async create(unit, raw) {
      const parsed = createSchema.safeParse(raw);
      if (!parsed.success) throw ValidationError.fromZod(parsed.error, 'Invalid invoice');
      const input = parsed.data;

      // Same-key creators wait here for each other; the second then finds the first one's invoice.
      await unit.lockIdempotencyKey(input.idempotencyKey);
      const existing = await unit.findByIdempotencyKey(input.idempotencyKey);
      if (existing) {
        if (existing.userId !== input.userId) throw new ConflictError('Idempotency key already used');
        return existing;
      }

      const lines = input.lines.map((line) => ({ ...line, amount: line.quantity * line.unitAmount }));
      const subtotal = lines.reduce((sum, line) => sum + line.amount, 0);
      const invalid = (path: string, message: string) =>
        new ValidationError('Invalid invoice', { details: [{ path, message }] });
      if (lines.some((line) => Math.abs(line.amount) > MAX_AMOUNT))
        throw invalid('lines', 'amount too large');
      if (subtotal < 0) throw invalid('lines', 'must not add up to less than zero');
      const tax = computeTax(subtotal, input.taxRateBps);
      const total = subtotal + tax;
      if (total > MAX_AMOUNT) throw invalid('lines', 'total too large');

      let creditApplied = 0;
      if (input.applyCredit && total > 0) {
        // Row lock: two invoices created at once never spend the same credit.
        const customer = await unit.lockCredit(input.userId);
        if (customer && customer.creditBalance > 0) {
          if (customer.currency === null || customer.currency === input.currency) {
            creditApplied = Math.min(customer.creditBalance, total);
          } else {
            logger.warn(
              { userId: input.userId, invoiceCurrency: input.currency },
              'invoice: credit balance in another currency, not applied',
            );
          }
        }
      }

      const issuedAt = now();
      const amountDue = total - creditApplied;
      const status = amountDue === 0 ? 'PAID' : 'OPEN';
      const { number } = await unit.nextNumber(issuedAt.getUTCFullYear());
      const invoice = await unit.insert({
        number,
        userId: input.userId,
        subscriptionId: input.subscriptionId ?? null,
        status,
        billingReason: input.billingReason,
        idempotencyKey: input.idempotencyKey,
        currency: input.currency,
        subtotalAmount: subtotal,
        taxRateBps: input.taxRateBps,
        taxAmount: tax,
        creditApplied,
        totalAmount: total,
        amountPaid: 0,
        amountDue,
        periodStart: input.periodStart ?? null,
        periodEnd: input.periodEnd ?? null,
        dueAt: input.dueAt ?? null,
        paidAt: status === 'PAID' ? issuedAt : null,
        createdAt: issuedAt,
        lines: lines.map((line) => ({
          kind: line.kind,
          description: line.description,
          quantity: line.quantity,
          unitAmount: line.unitAmount,
          amount: line.amount,
          planId: line.planId ?? null,
          periodStart: line.periodStart ?? null,
          periodEnd: line.periodEnd ?? null,
        })),
      });

      let balanceAfter: number | undefined;
      if (creditApplied > 0) {
        balanceAfter = await unit.spendCredit(input.userId, creditApplied);
        await unit.audit({
          action: InvoiceAuditAction.CUSTOMER_CREDIT_APPLIED,
          outcome: 'SUCCESS',
          targetType: 'BillingCustomer',
          targetId: input.userId,
          at: issuedAt,
          metadata: { invoiceId: invoice.id, amount: creditApplied, currency: input.currency, balanceAfter },
        });
      }
      await unit.audit({
        action: InvoiceAuditAction.INVOICE_CREATED,
        outcome: 'SUCCESS',
        targetType: 'Invoice',
        targetId: invoice.id,
        at: issuedAt,
        metadata: {
          userId: input.userId,
          number,
          billingReason: input.billingReason,
          currency: input.currency,
          subtotalAmount: subtotal,
          taxAmount: tax,
          totalAmount: total,
          creditApplied,
          amountDue,
          status,
        },
      });
      return invoice;
    },

    async list(userId, raw = {}) {
      const parsed = listSchema.safeParse(raw);
      if (!parsed.success) throw ValidationError.fromZod(parsed.error, 'Invalid page request');
      const size = parsed.data.first ?? DEFAULT_INVOICE_PAGE_SIZE;
      const position = parsed.data.after ? decodeCursor(parsed.data.after) : undefined;
      if (!UUID.test(userId)) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
      const rows = await invoiceRecords.listForUser(userId, {
        status: parsed.data.status ?? null,
        position,
        // One extra row says whether another page follows, without a count.
        take: size + 1,
      });
      const edges = rows.slice(0, size).map((row) => ({ cursor: encodeKeysetCursor(row), node: row }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },

    async byIdForUser(userId, invoiceId) {
      return findOwned(userId, invoiceId);
    },

    async byId(invoiceId) {
      if (!UUID.test(invoiceId)) return null;
      return invoiceRecords.findById(invoiceId);
    },

    renderPdf,

    async downloadUrl(userId, invoiceId) {
      const invoice = await findOwned(userId, invoiceId);
      if (!invoice) throw new NotFoundError('Invoice not found');
      const key = invoice.pdfObjectKey ?? (await renderPdf(invoice.id));
      const url = await storage.signedUrl(key, { expiresInSeconds: urlSeconds });
      return { url, expiresAt: new Date(now().getTime() + urlSeconds * 1000) };
    },
  };
}
