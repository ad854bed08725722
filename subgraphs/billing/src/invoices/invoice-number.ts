/** Prefix of every invoice number: `GH-<year>-<000001>`. */
export const INVOICE_NUMBER_PREFIX = 'GH';

/** `GH-2026-000042`. Six digits at least; the 1 000 000th invoice of a year simply gets seven. */
export function formatInvoiceNumber(year: number, sequence: number): string {
  return `${INVOICE_NUMBER_PREFIX}-${year}-${String(sequence).padStart(6, '0')}`;
}
