import type { InvoiceBillingReason, InvoiceLineKind, InvoiceStatus } from '@gatehouse/db';

export type { InvoiceBillingReason, InvoiceLineKind, InvoiceStatus };

/** One line to put on a new invoice. `amount = quantity * unitAmount`; credits have a negative unit amount. */
export interface InvoiceLineInput {
  kind: 'SUBSCRIPTION' | 'PRORATION' | 'CREDIT';
  description: string;
  /** Default 1. */
  quantity?: number;
  /** Minor units; >= 0 for SUBSCRIPTION, <= 0 for CREDIT, either sign for PRORATION. */
  unitAmount: number;
  planId?: string;
  periodStart?: Date;
  periodEnd?: Date;
}

export interface CreateInvoiceInput {
  userId: string;
  subscriptionId?: string;
  billingReason: InvoiceBillingReason;
  /** Retry-safe creation, e.g. `renewal:<subscription id>:<period start ISO>`: a second call returns the first invoice. */
  idempotencyKey: string;
  currency: string;
  lines: InvoiceLineInput[];
  /** Basis points on the subtotal. Default 0. */
  taxRateBps?: number;
  /** Consume the customer's credit balance (same currency) against the total. Default false. */
  applyCredit?: boolean;
  periodStart?: Date;
  periodEnd?: Date;
  dueAt?: Date;
}

export interface InvoiceLineRow {
  id: string;
  kind: InvoiceLineKind;
  description: string;
  quantity: number;
  unitAmount: number;
  amount: number;
  planId: string | null;
  periodStart: Date | null;
  periodEnd: Date | null;
}

/** An invoice as the service hands it out (GraphQL-friendly: plain fields, Dates, string ids). */
export interface InvoiceRow {
  id: string;
  /** `GH-2026-000042`. */
  number: string;
  userId: string;
  subscriptionId: string | null;
  status: InvoiceStatus;
  billingReason: InvoiceBillingReason;
  currency: string;
  /** Sum of the line amounts. */
  subtotalAmount: number;
  taxRateBps: number;
  taxAmount: number;
  /** `subtotalAmount + taxAmount`. */
  totalAmount: number;
  /** Customer credit balance consumed by this invoice (deducted from `amountDue`, not a line). */
  creditApplied: number;
  amountPaid: number;
  /** `totalAmount - creditApplied - amountPaid`. */
  amountDue: number;
  periodStart: Date | null;
  periodEnd: Date | null;
  dueAt: Date | null;
  paidAt: Date | null;
  /** Object-storage key of the rendered PDF, once rendered. */
  pdfObjectKey: string | null;
  createdAt: Date;
  lines: InvoiceLineRow[];
}

export interface InvoicePage {
  edges: { cursor: string; node: InvoiceRow }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface ListInvoicesOptions {
  /** Page size, 1 to 100. Default 20. */
  first?: number | null;
  /** `endCursor` of the previous page. */
  after?: string | null;
  status?: InvoiceStatus | null;
}
