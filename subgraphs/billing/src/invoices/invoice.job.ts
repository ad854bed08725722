import type { JobQueue } from '@gatehouse/jobs';
import type { Mailer } from '@gatehouse/mail';
import { formatMoney } from '../money';
import type { BillingRecipients } from '../notifications/billing-recipients';
import type { InvoiceService } from './invoice.service';
import type { InvoiceRow } from './invoice.types';

/** Renders the PDF of a paid invoice and mails it (template `invoice`, PDF attached). Data: {@link InvoicePaidJob}. */
export const INVOICE_PAID_JOB = 'billing.invoice-paid';

export interface InvoicePaidJob {
  invoiceId: string;
}

/**
 * Queues the paid-invoice job. Call it after the transaction that marked the invoice PAID has committed; the
 * job id makes a second call (a webhook and the charge both noticing the payment) add nothing.
 */
export function enqueueInvoicePaid(jobQueue: Pick<JobQueue, 'enqueue'>, invoiceId: string): Promise<string> {
  return jobQueue.enqueue<InvoicePaidJob>(
    INVOICE_PAID_JOB,
    { invoiceId },
    { jobId: `invoice-paid-${invoiceId}` },
  );
}

export interface RegisterInvoiceJobsOptions {
  jobQueue: Pick<JobQueue, 'process'>;
  recipients: BillingRecipients;
  invoices: Pick<InvoiceService, 'byId' | 'renderPdf'>;
  mailer: Pick<Mailer, 'send'>;
  /** The page of the invoice in the web app (after sign-in), linked from the mail; signed URLs expire too soon. */
  invoiceUrl: (invoice: InvoiceRow) => string;
  logger?: { info(details: object, message: string): void; warn(details: object, message: string): void };
}

/**
 * Registers the {@link INVOICE_PAID_JOB} handler. Idempotent (at-least-once jobs): the PDF is rendered only
 * when missing, and the mail's idempotency key `invoice:<id>` sends it at most once. An invoice that is not
 * PAID (voided meanwhile) or whose owner was deleted gets no mail.
 */
export function registerInvoiceJobs(options: RegisterInvoiceJobsOptions): void {
  const { jobQueue, recipients, invoices, mailer, invoiceUrl, logger } = options;
  jobQueue.process<InvoicePaidJob>(INVOICE_PAID_JOB, async ({ invoiceId }) => {
    const invoice = await invoices.byId(invoiceId);
    if (!invoice || invoice.status !== 'PAID') {
      logger?.warn({ invoiceId, status: invoice?.status ?? null }, 'invoice: not paid, no invoice mail');
      return;
    }
    const key = invoice.pdfObjectKey ?? (await invoices.renderPdf(invoice.id));
    const user = await recipients.find(invoice.userId);
    if (!user || user.deleted) {
      logger?.info({ invoiceId }, 'invoice: owner deleted, no invoice mail');
      return;
    }
    const name = user.name?.trim();
    await mailer.send({
      to: user.email,
      template: 'invoice',
      userId: invoice.userId,
      idempotencyKey: `invoice:${invoice.id}`,
      data: {
        ...(name ? { name } : {}),
        number: invoice.number,
        total: formatMoney(invoice.totalAmount, invoice.currency),
        ...(invoice.paidAt ? { paidAt: invoice.paidAt } : {}),
        downloadUrl: invoiceUrl(invoice),
      },
      attachments: [{ filename: `${invoice.number}.pdf`, contentType: 'application/pdf', storageKey: key }],
    });
    logger?.info({ invoiceId }, 'invoice: mail queued');
  });
}
