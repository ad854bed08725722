export {
  DEFAULT_INVOICE_PAGE_SIZE,
  DEFAULT_INVOICE_URL_SECONDS,
  InvoiceAuditAction,
  MAX_INVOICE_PAGE_SIZE,
  createInvoiceService,
  invoicePdfKey,
  type InvoiceService,
  type InvoiceServiceLogger,
  type InvoiceServiceOptions,
} from './invoice.service';
export {
  INVOICE_PAID_JOB,
  enqueueInvoicePaid,
  registerInvoiceJobs,
  type InvoicePaidJob,
  type RegisterInvoiceJobsOptions,
} from './invoice.job';
export { INVOICE_NUMBER_PREFIX, formatInvoiceNumber } from './invoice-number';
export { createInvoiceRepository, type InvoiceRepository, type InvoiceWriteUnit } from './invoice.repository';
export {
  renderInvoicePdf,
  type InvoiceCustomer,
  type InvoicePdfInput,
  type InvoiceSeller,
  type RenderInvoicePdfOptions,
} from './invoice-pdf';
export type {
  CreateInvoiceInput,
  InvoiceBillingReason,
  InvoiceLineInput,
  InvoiceLineKind,
  InvoiceLineRow,
  InvoicePage,
  InvoiceRow,
  InvoiceStatus,
  ListInvoicesOptions,
} from './invoice.types';
