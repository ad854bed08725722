import type { EnvelopeCipher } from '@gatehouse/crypto';
import type { PrismaClient } from '@gatehouse/db';
import type { JobContext, JobQueue } from '@gatehouse/jobs';
import { isLockedCategory, templateCategory, type MailCategory } from './categories';
import {
  createEmailDeliveryRepository,
  type EmailDeliveryRecord,
  type EmailDeliveryRepository,
} from './email-delivery.repository';
import { CONSOLE_MAIL_LOGGER, MAIL_SEND_JOB, type MailLogger, type MailSendJob } from './mail-queue';
import {
  renderMail,
  type MailTemplateOverride,
  type MailTemplateOverrides,
  type RenderedMail,
} from './render';
import { isMailTemplateName, type MailTemplateData, type MailTemplateName } from './templates';
import { createEmailPreferenceCheck, type EmailPreferenceCheck } from './email-preferences';
import { MailSendError, type MailTransport, type OutgoingAttachment } from './transport';
import { unpackMailPayload, type LoadAttachment, type MailAttachment } from './attachments';
import type { UnsubscribeTokens } from './unsubscribe-token';

export interface MailWorkerOptions {
  prisma: PrismaClient;
  jobQueue: JobQueue;
  transport: MailTransport;
  cipher: Pick<EnvelopeCipher, 'decrypt'>;
  logger?: MailLogger;
  /** Mails sent at the same time by this process. Default 2. */
  concurrency?: number;
  /** Must match the mailer's. Default `Gatehouse`. */
  productName?: string;
  /**
   * One-click unsubscribe (RFC 8058) for mail the recipient may switch off (`billing`, `product`): each such
   * mail to a user gets a fresh single-use signed link, `${url}?token=...`, in its footer and in the
   * `List-Unsubscribe` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` headers. `url` is the public
   * address of the account subgraph's unsubscribe route, e.g. `https://id.example.com/unsubscribe`.
   * Without it such mail goes out with no link (a warning is logged at start).
   */
  unsubscribe?: { tokens: Pick<UnsubscribeTokens, 'mint'>; url: string };
  /** Whether a user accepts a category. Default: reads `notification_preferences` through `prisma`. */
  preferences?: EmailPreferenceCheck;
  /**
   * Copy an administrator chose per template, looked up for every mail (so a change applies to the next mail
   * without a restart). A failing lookup is logged and the template's own copy goes out: copy is not worth a
   * lost or delayed security mail. Default: none.
   */
  templateOverrides?: MailTemplateOverrides;
  /**
   * Loads the bytes of a mail's attachments (`attachments` given to `Mailer.send`) by object-storage key, e.g.
   * `(key) => storage.get(key)` unwrapped. A rejection is a transient failure (retried like an SMTP error).
   * Without it, mail that has attachments fails for good; other mail is unaffected.
   */
  loadAttachment?: LoadAttachment;
}

/** Thrown to the job queue to ask for a retry; carries only the already-sanitised reason. */
export class MailDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailDeliveryError';
  }
}

/** A failure that no retry can fix (the key that encrypted the payload is gone, the data no longer fits). */
class PermanentFailure extends Error {}

/**
 * Processes `mail.send` jobs: loads the delivery, decrypts and renders its template, sends it and records
 * the outcome. Idempotent on redelivery: a delivery that is no longer QUEUED is skipped. A transient failure is
 * recorded and re-thrown so the queue retries with backoff; after the job's last attempt, or at once for a
 * permanent refusal (5xx), the delivery becomes FAILED. SENT and FAILED deliveries drop their payload.
 *
 * Mail of a category the recipient may switch off (`billing`, `product`; see {@link templateCategory}) to a
 * user is checked against their EMAIL preference first: switched off, the delivery becomes SUPPRESSED and
 * nothing is sent. Otherwise it carries a one-click unsubscribe link when `unsubscribe` is configured.
 *
 * At-least-once: if the process dies between the SMTP server's acceptance and the SENT update, the mail
 * goes out again on the retry.
 */
export function startMailWorker(options: MailWorkerOptions): void {
  const { jobQueue, transport, cipher, productName, unsubscribe } = options;
  const repository = createEmailDeliveryRepository(options.prisma);
  const logger = options.logger ?? CONSOLE_MAIL_LOGGER;
  const preferences = options.preferences ?? createEmailPreferenceCheck(options.prisma);
  if (unsubscribe) {
    const base = new URL(unsubscribe.url);
    if ((base.protocol !== 'https:' && base.protocol !== 'http:') || base.search !== '' || base.hash !== '') {
      throw new TypeError(
        'startMailWorker: unsubscribe.url must be an http(s) URL without query or fragment',
      );
    }
  } else {
    logger.warn(
      {},
      'mail: no unsubscribe configuration, billing and product mail go out without unsubscribe links',
    );
  }

  const deps: Dependencies = {
    repository,
    transport,
    cipher,
    productName,
    logger,
    preferences,
    unsubscribe,
    templateOverrides: options.templateOverrides,
    loadAttachment: options.loadAttachment,
  };
  jobQueue.process<MailSendJob>(MAIL_SEND_JOB, (job, context) => deliver(job, context, deps), {
    concurrency: options.concurrency ?? 2,
  });
}

interface Dependencies {
  repository: EmailDeliveryRepository;
  transport: MailTransport;
  cipher: Pick<EnvelopeCipher, 'decrypt'>;
  productName: string | undefined;
  logger: MailLogger;
  preferences: EmailPreferenceCheck;
  unsubscribe: MailWorkerOptions['unsubscribe'];
  templateOverrides: MailTemplateOverrides | undefined;
  loadAttachment: LoadAttachment | undefined;
}

async function deliver(job: MailSendJob, context: JobContext, deps: Dependencies): Promise<void> {
  const { repository, transport, logger } = deps;
  const delivery = await repository.findById(job.deliveryId);
  const log = { deliveryId: job.deliveryId, attempt: context.attempt };
  if (!delivery) {
    logger.warn(log, 'mail: delivery not found, job dropped');
    return;
  }
  if (delivery.status !== 'QUEUED') {
    // A redelivered job (queue retry after a crash, requeueStale): the mail already went out or gave up.
    logger.info({ ...log, status: delivery.status }, 'mail: delivery already settled, job skipped');
    return;
  }

  // Security and account mail is never suppressed and never offers an unsubscribe link.
  const category = templateCategory(delivery.template);
  // The user who may switch this mail off; null for locked categories and for mail to an address only.
  const optOutUser = isLockedCategory(category) ? null : delivery.userId;
  if (optOutUser !== null) {
    let accepted: boolean;
    try {
      accepted = await deps.preferences(optOutUser, category);
    } catch (error) {
      const final = context.attempt >= job.attempts;
      await repository.recordFailure(delivery.id, 'preferences could not be read', { final });
      logger.error({ ...log, err: error, final }, 'mail: preferences could not be read');
      if (final) return;
      throw new MailDeliveryError('preferences could not be read');
    }
    if (!accepted) {
      await repository.markSuppressed(delivery.id);
      logger.info(
        { ...log, template: delivery.template, category },
        'mail: suppressed, category switched off',
      );
      return;
    }
  }
  const unsubscribeUrl =
    optOutUser !== null && deps.unsubscribe
      ? unsubscribeLink(deps.unsubscribe, optOutUser, category)
      : undefined;

  let override: MailTemplateOverride | undefined;
  if (deps.templateOverrides && isMailTemplateName(delivery.template)) {
    try {
      override = await deps.templateOverrides(delivery.template);
    } catch (error) {
      logger.warn({ ...log, err: error, template: delivery.template }, 'mail: template override unavailable');
    }
  }

  let mail: RenderedMail & { attachments: MailAttachment[] };
  try {
    mail = render(delivery, deps, unsubscribeUrl, override);
  } catch (error) {
    const reason = error instanceof PermanentFailure ? error.message : 'rendering failed';
    await repository.recordFailure(delivery.id, reason, { final: true });
    logger.error({ ...log, template: delivery.template, reason }, 'mail: cannot render, delivery FAILED');
    return;
  }

  let attachments: OutgoingAttachment[] | undefined;
  if (mail.attachments.length > 0) {
    try {
      attachments = await loadAttachments(mail.attachments, deps.loadAttachment);
    } catch (error) {
      const permanent = error instanceof PermanentFailure;
      const reason = permanent ? error.message : 'attachment could not be loaded';
      const final = permanent || context.attempt >= job.attempts;
      await repository.recordFailure(delivery.id, reason, { final });
      logger.error({ ...log, err: error, template: delivery.template, final }, `mail: ${reason}`);
      if (final) return;
      throw new MailDeliveryError(reason);
    }
  }

  let messageId: string;
  try {
    ({ messageId } = await transport.send({
      to: delivery.recipient,
      subject: mail.subject,
      html: mail.html,
      text: mail.text,
      headers: {
        // RFC 3834: tells auto-responders (vacation replies) not to answer.
        'Auto-Submitted': 'auto-generated',
        'X-Gatehouse-Delivery-Id': delivery.id,
        // RFC 2369 + RFC 8058: mail clients show an "Unsubscribe" button that POSTs to the link.
        ...(unsubscribeUrl
          ? {
              'List-Unsubscribe': `<${unsubscribeUrl}>`,
              'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
            }
          : {}),
      },
      ...(attachments ? { attachments } : {}),
    }));
  } catch (error) {
    // Transports throw MailSendError; anything else is described by its message only.
    const sendError =
      error instanceof MailSendError
        ? error
        : new MailSendError((error instanceof Error ? error.message : String(error)).slice(0, 500), {
            code: 'ESEND',
          });
    const final = sendError.permanent || context.attempt >= job.attempts;
    await repository.recordFailure(delivery.id, sendError.message, { final });
    if (final) {
      logger.error(
        { ...log, template: delivery.template, code: sendError.code, responseCode: sendError.responseCode },
        'mail: delivery FAILED',
      );
      return;
    }
    logger.warn(
      { ...log, code: sendError.code, responseCode: sendError.responseCode },
      'mail: send failed, will retry',
    );
    throw new MailDeliveryError(sendError.message);
  }

  await repository.markSent(
    delivery.id,
    messageId,
    mail.subject === delivery.subject ? undefined : mail.subject,
  );
  logger.info({ ...log, template: delivery.template }, 'mail: sent');
}

/** A fresh single-use link per mail: its `jti` is recorded when used, so a second click is refused. */
function unsubscribeLink(
  unsubscribe: NonNullable<MailWorkerOptions['unsubscribe']>,
  userId: string,
  category: MailCategory,
): string {
  const url = new URL(unsubscribe.url);
  url.searchParams.set('token', unsubscribe.tokens.mint({ userId, category }).token);
  return url.toString();
}

function render(
  delivery: EmailDeliveryRecord,
  deps: Dependencies,
  unsubscribeUrl?: string,
  override?: MailTemplateOverride,
): RenderedMail & { attachments: MailAttachment[] } {
  if (!isMailTemplateName(delivery.template)) {
    throw new PermanentFailure(`unknown template "${delivery.template.slice(0, 64)}"`);
  }
  if (delivery.payloadEncrypted === null) throw new PermanentFailure('payload missing');
  let payload: unknown;
  try {
    payload = JSON.parse(deps.cipher.decrypt(delivery.payloadEncrypted, delivery.id).toString('utf8'));
  } catch {
    throw new PermanentFailure('payload cannot be decrypted (was its encryption key removed?)');
  }
  let data: unknown;
  let attachments: MailAttachment[];
  try {
    ({ data, attachments } = unpackMailPayload(payload));
  } catch {
    throw new PermanentFailure('payload has malformed attachments');
  }
  try {
    // Validated by renderMail against the template's schema.
    const rendered = renderMail<MailTemplateName>(
      delivery.template,
      data as MailTemplateData<MailTemplateName>,
      {
        productName: deps.productName,
        ...(unsubscribeUrl === undefined ? {} : { unsubscribeUrl }),
        ...(override === undefined ? {} : { override }),
      },
    );
    return { ...rendered, attachments };
  } catch {
    // The message of a ValidationError names fields only, but keep lastError fixed and short anyway.
    throw new PermanentFailure(`payload does not fit template "${delivery.template}"`);
  }
}

/** The attachments' bytes, in order. A missing loader is a wiring bug no retry fixes. */
async function loadAttachments(
  attachments: readonly MailAttachment[],
  load: LoadAttachment | undefined,
): Promise<OutgoingAttachment[]> {
  if (!load) throw new PermanentFailure('mail has attachments but the worker has no loadAttachment');
  return Promise.all(
    attachments.map(async ({ filename, contentType, storageKey }) => ({
      filename,
      contentType,
      content: await load(storageKey),
    })),
  );
}
