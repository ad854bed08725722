/** The job that sends one delivery; its job id is the delivery id, so a delivery is queued at most once. */
export const MAIL_SEND_JOB = 'mail.send';

export interface MailSendJob {
  deliveryId: string;
  /** Tries this job gets; the worker marks the delivery FAILED after the last one. */
  attempts: number;
}

export const DEFAULT_MAIL_ATTEMPTS = 5;
/** First retry after 30 s, then 1, 2 and 4 minutes. */
export const DEFAULT_MAIL_BACKOFF_MS = 30_000;

/** The slice of a pino logger this package uses; a `@gatehouse/logger` Logger satisfies it. */
export interface MailLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** Used without a logger: errors still surface, the rest stays quiet. */
export const CONSOLE_MAIL_LOGGER: MailLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: (details, message) => console.error(message, details),
};
