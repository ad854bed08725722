import type { Prisma } from '@gatehouse/db';

/** Prefix of every invoice number: `GH-<year>-<000001>`. */
export const INVOICE_NUMBER_PREFIX = 'GH';

/** `GH-2026-000042`. Six digits at least; the 1 000 000th invoice of a year simply gets seven. */
export function formatInvoiceNumber(year: number, sequence: number): string {
  return `${INVOICE_NUMBER_PREFIX}-${year}-${String(sequence).padStart(6, '0')}`;
}

/**
 * Takes the next number of `year` inside the caller's transaction. The upsert locks the year's
 * `invoice_number_sequences` row until that transaction ends, so concurrent invoices queue behind each other;
 * a transaction that rolls back also rolls back its increment, which keeps the numbers free of gaps (unlike a
 * Postgres SEQUENCE). The first invoice of a year creates the row (`ON CONFLICT` makes racing creators wait for
 * each other instead of failing).
 */
export async function nextInvoiceNumber(
  tx: Prisma.TransactionClient,
  year: number,
): Promise<{ number: string; sequence: number }> {
  const rows = await tx.$queryRaw<{ last_value: number }[]>`
    INSERT INTO invoice_number_sequences (year, last_value) VALUES (${year}, 1)
    ON CONFLICT (year) DO UPDATE SET last_value = invoice_number_sequences.last_value + 1
    RETURNING last_value`;
  const sequence = Number(rows[0]?.last_value);
  if (!Number.isSafeInteger(sequence) || sequence < 1)
    throw new Error('invoice number sequence returned nothing');
  return { number: formatInvoiceNumber(year, sequence), sequence };
}
