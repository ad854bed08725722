import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { EnvelopeCipher } from '@gatehouse/crypto';
import type { PrismaClient } from '@gatehouse/db';
import { ValidationError } from '@gatehouse/errors';
import type { JobQueue } from '@gatehouse/jobs';
import { createEmailDeliveryRepository, type EmailDeliveryStatus } from './email-delivery.repository';
import {
  CONSOLE_MAIL_LOGGER,
  DEFAULT_MAIL_ATTEMPTS,
  DEFAULT_MAIL_BACKOFF_MS,
  MAIL_SEND_JOB,
  type MailLogger,
  type MailSendJob,
} from './mail-queue';
import { isLockedCategory, templateCategory } from './categories';
import { renderMail } from './render';
import { mailAttachmentsSchema, packMailPayload, type MailAttachment } from './attachments';
import type { MailTemplateData, MailTemplateName } from './templates';

export interface MailerOptions {
  prisma: PrismaClient;
  jobQueue: JobQueue;
  /** Encrypts template data at rest (it holds single-use links). */
  cipher: Pick<EnvelopeCipher, 'encrypt'>;
  logger?: MailLogger;
  /** Must match the worker's. Default `Gatehouse`. */
  productName?: string;
  /** Tries per mail. Default {@link DEFAULT_MAIL_ATTEMPTS}. */
  attempts?: number;
  /** Wait before the first retry, doubled for each further one. Default {@link DEFAULT_MAIL_BACKOFF_MS}. */
  backoffMs?: number;
}

export type SendMailInput = {
  [T in MailTemplateName]: {
    to: string;
    template: T;
    data: MailTemplateData<T>;
    /** The account the mail is about, if any. */
    userId?: string;
    /**
     * Sending again with the same key returns the first delivery and sends nothing, e.g.
     * `verify-email:<token id>`. Keys are global: prefix them with the template name.
     */
    idempotencyKey?: string;
    /**
     * Files to attach, by object-storage key (e.g. an invoice PDF); the worker loads them through its
     * `loadAttachment` when it sends. Omitted: a plain mail.
     */
    attachments?: MailAttachment[];
  };
}[MailTemplateName];

export interface SendMailResult {
  deliveryId: string;
  status: EmailDeliveryStatus;
  /** False when `idempotencyKey` matched an earlier delivery. */
  created: boolean;
}

export interface Mailer {
  /**
   * Records the mail as QUEUED and hands it to the job queue; the worker renders and sends it. Resolves once
   * the delivery is stored: if the queue is unreachable the delivery stays QUEUED for {@link requeueStale}.
   * @throws ValidationError when the address or the template data is invalid, or `userId` is missing for mail
   * the recipient may switch off (`billing`, `product`: preferences and unsubscribe links belong to a user).
   */
  send(input: SendMailInput): Promise<SendMailResult>;
  /**
   * Queues again every delivery still QUEUED and untouched for `olderThanMs` (its enqueue failed, or the
   * in-process queue was lost in a restart). Safe to run on a schedule: the job id is the delivery id, so a
   * delivery already in the queue is not added twice. Choose `olderThanMs` above the longest retry backoff.
   */
  requeueStale(options: { olderThanMs: number; limit?: number }): Promise<{ requeued: number }>;
}

const email = z.email({ error: 'must be an email address' }).max(254);
const idempotencyKey = z.string().min(1).max(200);
const uuid = z.uuid();

export function createMailer(options: MailerOptions): Mailer {
  const { jobQueue, cipher } = options;
  const repository = createEmailDeliveryRepository(options.prisma);
  const logger = options.logger ?? CONSOLE_MAIL_LOGGER;
  const attempts = options.attempts ?? DEFAULT_MAIL_ATTEMPTS;
  const backoffMs = options.backoffMs ?? DEFAULT_MAIL_BACKOFF_MS;

  async function enqueue(deliveryId: string): Promise<boolean> {
    try {
      await jobQueue.enqueue<MailSendJob>(
        MAIL_SEND_JOB,
        { deliveryId, attempts },
        { jobId: deliveryId, attempts, backoffMs },
      );
      return true;
    } catch (error) {
      // The delivery is stored as QUEUED, so requeueStale() picks it up; the caller's request goes on.
      logger.error({ err: error, deliveryId }, 'mail: enqueue failed, delivery left QUEUED for requeueStale');
      return false;
    }
  }

  return {
    async send(input) {
      const checked = z
        .object({
          to: email,
          userId: uuid.optional(),
          idempotencyKey: idempotencyKey.optional(),
          attachments: mailAttachmentsSchema.optional(),
        })
        .safeParse(input);
      if (!checked.success) throw ValidationError.fromZod(checked.error, 'Invalid mail');
      // Billing and product mail honours the user's preferences and carries their unsubscribe link.
      if (input.userId === undefined && !isLockedCategory(templateCategory(input.template))) {
        throw new ValidationError('Invalid mail', {
          details: [{ path: 'userId', message: `is required for ${templateCategory(input.template)} mail` }],
        });
      }
      // Rendering validates the data and fixes the subject stored with the delivery.
      const { subject } = renderMail<MailTemplateName>(input.template, input.data, {
        productName: options.productName,
      });

      if (input.idempotencyKey !== undefined) {
        const existing = await repository.findByIdempotencyKey(input.idempotencyKey);
        if (existing) {
          // Heals an earlier failed enqueue; the job id makes it a no-op when the job is known.
          if (existing.status === 'QUEUED') await enqueue(existing.id);
          return { deliveryId: existing.id, status: existing.status, created: false };
        }
      }
      const id = randomUUID();
      const { created, delivery } = await repository.insert({
        id,
        userId: input.userId,
        template: input.template,
        recipient: input.to,
        subject,
        idempotencyKey: input.idempotencyKey,
        // Bound to the row: an envelope copied into another row does not decrypt.
        payloadEncrypted: cipher.encrypt(JSON.stringify(packMailPayload(input.data, input.attachments)), id),
      });
      if (delivery.status === 'QUEUED') await enqueue(delivery.id);
      return { deliveryId: delivery.id, status: delivery.status, created };
    },

    async requeueStale({ olderThanMs, limit = 500 }) {
      if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
        throw new RangeError(`olderThanMs must be >= 0, got ${olderThanMs}`);
      }
      const ids = await repository.findStaleQueued(new Date(Date.now() - olderThanMs), limit);
      let requeued = 0;
      for (const id of ids) if (await enqueue(id)) requeued++;
      if (ids.length > 0) logger.info({ requeued, stale: ids.length }, 'mail: requeued stale deliveries');
      return { requeued };
    },
  };
}
