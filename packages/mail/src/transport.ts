/** One rendered mail to one recipient. The sender is the transport's `from`. */
export interface OutgoingMail {
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Extra headers, e.g. `Auto-Submitted`. Values must be single-line. */
  headers?: Record<string, string>;
  /** Files sent with the mail (an invoice PDF); omitted or empty: a plain mail as before. */
  attachments?: OutgoingAttachment[];
}

/** A file attached to an outgoing mail, already loaded into memory. */
export interface OutgoingAttachment {
  /** Shown to the recipient; the mailer only accepts `[A-Za-z0-9._ -]` names. */
  filename: string;
  /** MIME type, e.g. `application/pdf`. */
  contentType: string;
  content: Buffer;
}

/** Where rendered mail goes: an SMTP server, or the development outbox. */
export interface MailTransport {
  /** Resolves once the mail was accepted; rejects with a {@link MailSendError}. */
  send(mail: OutgoingMail): Promise<{ messageId: string }>;
  /** Closes connections; idempotent. */
  close(): Promise<void>;
}

/**
 * A failed send, described without secrets: transports build it from the SMTP code and the server's reply
 * only (a nodemailer error can carry the AUTH command, i.e. credentials, so it is never passed on).
 */
export class MailSendError extends Error {
  /** Nodemailer's code, e.g. `ECONNECTION`, `EENVELOPE`, `EMESSAGE`, `EAUTH`. */
  readonly code: string;
  readonly responseCode: number | undefined;
  /**
   * The server refused this mail for good (a 5xx reply to the envelope or message): retrying cannot help.
   * Connection, authentication and 4xx failures are transient.
   */
  readonly permanent: boolean;

  constructor(message: string, options: { code: string; responseCode?: number; permanent?: boolean }) {
    super(message);
    this.name = 'MailSendError';
    this.code = options.code;
    this.responseCode = options.responseCode;
    this.permanent = options.permanent ?? false;
  }
}
