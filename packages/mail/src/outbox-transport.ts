import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createTransport } from 'nodemailer';
import { extractLinks } from './links';
import { toNodemailerAttachment } from './smtp-transport';
import { MailSendError, type MailTransport, type OutgoingMail } from './transport';

export interface OutboxTransportOptions {
  /** Created when missing (mode 0700: mails carry sign-in links). */
  dir: string;
  /** The From header. */
  from: string;
}

/** The `.json` written next to each `.eml`: the parts a developer looks for, without decoding MIME. */
export interface OutboxEntry {
  messageId: string;
  from: string;
  to: string;
  subject: string;
  /** ISO 8601. */
  date: string;
  /** Every http(s) link in the text part, in order. */
  links: string[];
  text: string;
  /** File name of the full message next to this file. */
  eml: string;
  /** Only for mail with attachments: each one, also written next to this file as `file`. */
  attachments?: { filename: string; contentType: string; size: number; file: string }[];
}

/**
 * The embedded default: instead of sending, writes each mail to `dir` as `<timestamp>-<id>.eml` (the complete
 * MIME message, openable in any mail client) and `<timestamp>-<id>.json` ({@link OutboxEntry}). Files sort by
 * time; the `.json` appears last, so a file watcher can wait for it.
 */
export function createOutboxTransport(options: OutboxTransportOptions): MailTransport {
  const { dir, from } = options;
  // Nodemailer builds the MIME message; 'unix' newlines keep the file pleasant in a terminal.
  const composer = createTransport(
    { streamTransport: true, buffer: true, newline: 'unix', disableFileAccess: true, disableUrlAccess: true },
    { from },
  );
  let ready: Promise<unknown> | undefined;
  let closed = false;

  return {
    async send(mail: OutgoingMail) {
      if (closed) throw new MailSendError('outbox transport is closed', { code: 'ECLOSED' });
      try {
        ready ??= mkdir(dir, { recursive: true, mode: 0o700 });
        await ready;
        const info = await composer.sendMail({
          to: mail.to,
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
          headers: mail.headers,
          ...(mail.attachments?.length ? { attachments: mail.attachments.map(toNodemailerAttachment) } : {}),
        });
        const date = new Date();
        const base = `${date.toISOString().replace(/[:.]/g, '-')}-${randomBytes(6).toString('hex')}`;
        const entry: OutboxEntry = {
          messageId: String(info.messageId),
          from,
          to: mail.to,
          subject: mail.subject,
          date: date.toISOString(),
          links: extractLinks(mail.text),
          text: mail.text,
          eml: `${base}.eml`,
        };
        if (mail.attachments?.length) {
          entry.attachments = [];
          for (const [index, attachment] of mail.attachments.entries()) {
            // The index keeps two attachments with the same name apart; the name was checked by the mailer.
            const file = `${base}-${index + 1}-${attachment.filename.replace(/[^A-Za-z0-9._-]/g, '_')}`;
            await writeAtomically(path.join(dir, file), attachment.content);
            entry.attachments.push({
              filename: attachment.filename,
              contentType: attachment.contentType,
              size: attachment.content.length,
              file,
            });
          }
        }
        await writeAtomically(path.join(dir, `${base}.eml`), info.message as Buffer);
        await writeAtomically(path.join(dir, `${base}.json`), JSON.stringify(entry, null, 2) + '\n');
        return { messageId: entry.messageId };
      } catch (error) {
        ready = undefined;
        if (error instanceof MailSendError) throw error;
        const code = (error as { code?: unknown }).code;
        throw new MailSendError(`outbox: ${error instanceof Error ? error.message : String(error)}`, {
          code: typeof code === 'string' ? code : 'EOUTBOX',
        });
      }
    },
    async close() {
      closed = true;
    },
  };
}

/** Readers never see a half-written file. Mode 0600: the mail holds single-use links. */
async function writeAtomically(file: string, content: string | Buffer): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await rename(temporary, file);
}
