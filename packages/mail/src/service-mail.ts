import { deriveSecret, type EncryptionKey, type EnvelopeCipher } from '@gatehouse/crypto';
import type { PrismaClient } from '@gatehouse/db';
import type { JobQueue } from '@gatehouse/jobs';
import { objectStorageAttachmentLoader } from './attachments';
import { createMailTransport } from './create-mail-transport';
import type { MailLogger } from './mail-queue';
import { createMailer, type Mailer } from './mailer';
import { startMailWorker } from './mail-worker';
import type { MailTemplateOverrides } from './render';
import {
  UNSUBSCRIBE_SECRET_PURPOSE,
  createUnsubscribeTokens,
  type UnsubscribeTokens,
} from './unsubscribe-token';

/** The mail settings every service reads (`concerns.mail` of @gatehouse/config). */
export interface ServiceMailConfig {
  SMTP_URL?: string | undefined;
  MAIL_FROM: string;
  MAIL_OUTBOX_DIR: string;
  /** Public base URL: one-click unsubscribe links point at `${PUBLIC_URL}/unsubscribe`. */
  PUBLIC_URL: string;
}

export interface ServiceMailOptions {
  prisma: PrismaClient;
  jobQueue: JobQueue;
  cipher: EnvelopeCipher;
  /** The service's ENCRYPTION_KEYS: unsubscribe links are signed with a secret derived from them. */
  encryptionKeys: readonly EncryptionKey[];
  config: ServiceMailConfig;
  /** Object storage holding attachments (invoice PDFs). */
  storage: { get(key: string): Promise<{ body: Buffer } | null> };
  /** `email.templates.*` settings (`emailTemplateOverrides(settingsStore)` of @gatehouse/settings). */
  templateOverrides: MailTemplateOverrides;
  logger: MailLogger;
}

export interface ServiceMail {
  mailer: Mailer;
  /** Mints and verifies the one-click unsubscribe links (the account subgraph serves the route). */
  unsubscribeTokens: UnsubscribeTokens;
  close(): Promise<void>;
}

/**
 * A service's mailer and mail worker, configured the same way in every service. With Redis, the services' workers
 * share one queue and any of them may send any mail, so each must render and send it identically: unsubscribe
 * links, template overrides and attachments included. (Built separately, a worker missing one of them sent mail
 * without it, or failed it.)
 */
export function startServiceMail(options: ServiceMailOptions): ServiceMail {
  const { prisma, jobQueue, cipher, config, logger } = options;
  const transport = createMailTransport({
    ...(config.SMTP_URL ? { smtpUrl: config.SMTP_URL } : {}),
    from: config.MAIL_FROM,
    outboxDir: config.MAIL_OUTBOX_DIR,
  });
  const unsubscribeTokens = createUnsubscribeTokens({
    secret: deriveSecret(options.encryptionKeys, UNSUBSCRIBE_SECRET_PURPOSE),
  });
  const mailer = createMailer({ prisma, jobQueue, cipher, logger });
  startMailWorker({
    prisma,
    jobQueue,
    transport,
    cipher,
    logger,
    // Billing and product mail carries a one-click unsubscribe link served by the account subgraph.
    unsubscribe: { tokens: unsubscribeTokens, url: `${config.PUBLIC_URL}/unsubscribe` },
    templateOverrides: options.templateOverrides,
    loadAttachment: objectStorageAttachmentLoader(options.storage),
  });
  return { mailer, unsubscribeTokens, close: () => transport.close() };
}
