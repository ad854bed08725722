import type { InvoiceLineResolvers, InvoiceResolvers, PlanChangeResolvers } from '../generated/graphql';

const money = (amount: number, currency: string) => ({ amount, currency });

export const Invoice: InvoiceResolvers = {
  subtotal: (invoice) => money(invoice.subtotalAmount, invoice.currency),
  tax: (invoice) => money(invoice.taxAmount, invoice.currency),
  creditApplied: (invoice) => money(invoice.creditApplied, invoice.currency),
  total: (invoice) => money(invoice.totalAmount, invoice.currency),
  amountPaid: (invoice) => money(invoice.amountPaid, invoice.currency),
  amountDue: (invoice) => money(invoice.amountDue, invoice.currency),
  lines: (invoice) => invoice.lines.map((line) => ({ ...line, currency: invoice.currency })),
  // Owner-only: the invoice was reached through an owner-checked field, and the service checks again.
  downloadUrl: (invoice, _args, { viewer, billing }) =>
    viewer ? billing.invoices.downloadUrl(viewer.userId, invoice.id) : null,
};

export const InvoiceLine: InvoiceLineResolvers = {
  unitAmount: (line) => money(line.unitAmount, line.currency),
  amount: (line) => money(line.amount, line.currency),
};

export const PlanChange: PlanChangeResolvers = {
  credit: (change) => money(change.creditAmount, change.subscription.currency),
};
