export {
  createMailer,
  type Mailer,
  type MailerOptions,
  type SendMailInput,
  type SendMailResult,
} from './mailer';
export { startMailWorker, MailDeliveryError, type MailWorkerOptions } from './mail-worker';
export {
  CONSOLE_MAIL_LOGGER,
  DEFAULT_MAIL_ATTEMPTS,
  DEFAULT_MAIL_BACKOFF_MS,
  MAIL_SEND_JOB,
  type MailLogger,
  type MailSendJob,
} from './mail-queue';
export {
  DEFAULT_PRODUCT_NAME,
  escapeHtml,
  parseMailData,
  renderMail,
  type MailTemplateOverride,
  type MailTemplateOverrides,
  type RenderMailOptions,
  type RenderedMail,
} from './render';
export {
  MAIL_TEMPLATE_NAMES,
  formatInstant,
  isMailTemplateName,
  mailTemplateSchemas,
  type MailTemplateData,
  type MailTemplateName,
  type ParsedMailTemplateData,
} from './templates';
export { MailSendError, type MailTransport, type OutgoingAttachment, type OutgoingMail } from './transport';
export {
  MAX_MAIL_ATTACHMENTS,
  objectStorageAttachmentLoader,
  type LoadAttachment,
  type MailAttachment,
} from './attachments';
export { createSmtpTransport, type SmtpTransportOptions } from './smtp-transport';
export { createOutboxTransport, type OutboxEntry, type OutboxTransportOptions } from './outbox-transport';
export { extractLinks } from './links';
export type { EmailDeliveryRecord, EmailDeliveryStatus } from './email-delivery.repository';
export { createMailTransport, type CreateMailTransportOptions } from './create-mail-transport';
export {
  DEFAULT_REQUEUE_AFTER_MS,
  DEFAULT_SWEEP_INTERVAL_MS,
  startStaleDeliverySweep,
  type StaleDeliverySweepOptions,
} from './stale-sweep';
export {
  LOCKED_MAIL_CATEGORIES,
  MAIL_CATEGORIES,
  NOTIFICATION_CHANNELS,
  defaultPreference,
  hasTemplateCategory,
  isLockedCategory,
  isMailCategory,
  isNotificationChannel,
  templateCategory,
  type MailCategory,
  type NotificationChannel,
} from './categories';
export { createEmailPreferenceCheck, type EmailPreferenceCheck } from './email-preferences';
export {
  UNSUBSCRIBE_SECRET_MIN_BYTES,
  UNSUBSCRIBE_SECRET_PURPOSE,
  UNSUBSCRIBE_TOKEN_TTL_SECONDS,
  createUnsubscribeTokens,
  type UnsubscribeClaims,
  type UnsubscribeTokenCheck,
  type UnsubscribeTokenOptions,
  type UnsubscribeTokens,
} from './unsubscribe-token';
export {
  startServiceMail,
  type ServiceMail,
  type ServiceMailConfig,
  type ServiceMailOptions,
} from './service-mail';
