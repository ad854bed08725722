import PDFDocument from 'pdfkit';
import { formatMoney } from '../money';
import type { InvoiceRow } from './invoice.types';

/** Who issues the invoices: printed in the header of every PDF. */
export interface InvoiceSeller {
  name: string;
  addressLines?: string[];
  email?: string;
  /** VAT or other tax registration number. */
  taxId?: string;
}

export interface InvoiceCustomer {
  email: string;
  name?: string | null;
  /** ISO 3166-1 alpha-2. */
  country?: string | null;
}

export interface InvoicePdfInput {
  invoice: InvoiceRow;
  customer: InvoiceCustomer;
  seller: InvoiceSeller;
}

export interface RenderInvoicePdfOptions {
  /** Deflate the content streams. Default true; tests turn it off to read the text. */
  compress?: boolean;
}

const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });
const day = (date: Date) => dateFormat.format(date);

/**
 * The PDF's built-in Helvetica only covers Latin-1 (WinAnsi); other characters (a customer name in another
 * script) would print as garbage, so they become `?` rather than silently wrong glyphs.
 */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e\xa0-\xff]/g, '?');
}

/**
 * Renders an invoice as an A4 PDF: seller and customer blocks, number and dates, one row per line item, then
 * subtotal, tax, total, credit applied and amount due. Deterministic for the same invoice (the creation date
 * in the PDF metadata is the invoice's), so re-rendering yields the same bytes.
 */
export function renderInvoicePdf(
  input: InvoicePdfInput,
  options: RenderInvoicePdfOptions = {},
): Promise<Buffer> {
  const { invoice, customer, seller } = input;
  const money = (amount: number) => formatMoney(amount, invoice.currency);
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    compress: options.compress ?? true,
    info: {
      Title: `Invoice ${invoice.number}`,
      Author: printable(seller.name),
      CreationDate: invoice.createdAt,
      ModDate: invoice.createdAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const left = 50;
  const right = doc.page.width - 50;
  const width = right - left;

  // Seller (left) and invoice facts (right).
  doc.font('Helvetica-Bold').fontSize(16).text(printable(seller.name), left, 50);
  doc.font('Helvetica').fontSize(9);
  for (const line of [
    ...(seller.addressLines ?? []),
    seller.email,
    seller.taxId && `Tax ID: ${seller.taxId}`,
  ]) {
    if (line) doc.text(printable(line));
  }
  doc.font('Helvetica-Bold').fontSize(20).text('INVOICE', left, 50, { width, align: 'right' });
  doc.font('Helvetica').fontSize(9);
  const facts: [string, string][] = [
    ['Invoice number', invoice.number],
    ['Issued', day(invoice.createdAt)],
    ...(invoice.dueAt ? ([['Due', day(invoice.dueAt)]] as [string, string][]) : []),
    ...(invoice.periodStart && invoice.periodEnd
      ? ([['Period', `${day(invoice.periodStart)} - ${day(invoice.periodEnd)}`]] as [string, string][])
      : []),
    ['Status', invoice.status],
    ...(invoice.paidAt ? ([['Paid', day(invoice.paidAt)]] as [string, string][]) : []),
  ];
  for (const [label, value] of facts)
    doc.text(`${label}: ${value}`, left, undefined, { width, align: 'right' });

  // Customer.
  doc.moveDown(2);
  const billTo = Math.max(doc.y, 150);
  doc.font('Helvetica-Bold').fontSize(10).text('Bill to', left, billTo);
  doc.font('Helvetica').fontSize(9);
  if (customer.name) doc.text(printable(customer.name));
  doc.text(printable(customer.email));
  if (customer.country) doc.text(printable(customer.country));

  // Line items.
  const columns = { description: left, quantity: left + 280, unit: left + 330, amount: left + 410 };
  const header = doc.y + 20;
  doc.font('Helvetica-Bold').fontSize(9);
  doc.text('Description', columns.description, header, { width: 270 });
  doc.text('Qty', columns.quantity, header, { width: 40, align: 'right' });
  doc.text('Unit price', columns.unit, header, { width: 75, align: 'right' });
  doc.text('Amount', columns.amount, header, { width: right - columns.amount, align: 'right' });
  doc
    .moveTo(left, header + 14)
    .lineTo(right, header + 14)
    .stroke();
  doc.font('Helvetica');
  let y = header + 20;
  for (const line of invoice.lines) {
    const period =
      line.periodStart && line.periodEnd ? `\n${day(line.periodStart)} - ${day(line.periodEnd)}` : '';
    const description = printable(line.description) + period;
    const height = doc.heightOfString(description, { width: 270 });
    if (y + height > doc.page.height - 150) {
      doc.addPage();
      y = 50;
    }
    doc.text(description, columns.description, y, { width: 270 });
    doc.text(String(line.quantity), columns.quantity, y, { width: 40, align: 'right' });
    doc.text(money(line.unitAmount), columns.unit, y, { width: 75, align: 'right' });
    doc.text(money(line.amount), columns.amount, y, { width: right - columns.amount, align: 'right' });
    y += height + 8;
  }
  doc.moveTo(left, y).lineTo(right, y).stroke();

  // Totals.
  y += 10;
  const totals: [string, string, boolean][] = [
    ['Subtotal', money(invoice.subtotalAmount), false],
    [`Tax (${(invoice.taxRateBps / 100).toFixed(2)} %)`, money(invoice.taxAmount), false],
    ['Total', money(invoice.totalAmount), true],
    ...(invoice.creditApplied > 0
      ? ([['Credit applied', money(-invoice.creditApplied), false]] as [string, string, boolean][])
      : []),
    ...(invoice.amountPaid > 0
      ? ([['Amount paid', money(-invoice.amountPaid), false]] as [string, string, boolean][])
      : []),
    ['Amount due', money(invoice.amountDue), true],
  ];
  for (const [label, value, bold] of totals) {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(10);
    doc.text(label, columns.unit - 80, y, { width: 155, align: 'right' });
    doc.text(value, columns.amount, y, { width: right - columns.amount, align: 'right' });
    y += 16;
  }

  doc
    .font('Helvetica')
    .fontSize(8)
    .text('Amounts in ' + invoice.currency + '. Thank you for your business.', left, y + 30, { width });
  doc.end();
  return done;
}
