import { createOutboxTransport } from './outbox-transport';
import { createSmtpTransport } from './smtp-transport';
import type { MailTransport } from './transport';

export interface CreateMailTransportOptions {
  /** SMTP_URL: when set, mail goes to this server. */
  smtpUrl?: string;
  /** MAIL_FROM. */
  from: string;
  /** MAIL_OUTBOX_DIR: where mail is written when there is no SMTP server (the embedded default). */
  outboxDir: string;
}

/** SMTP when `smtpUrl` is set, otherwise the development outbox (the `mail` config concern's rule). */
export function createMailTransport(options: CreateMailTransportOptions): MailTransport {
  return options.smtpUrl
    ? createSmtpTransport({ url: options.smtpUrl, from: options.from })
    : createOutboxTransport({ dir: options.outboxDir, from: options.from });
}
