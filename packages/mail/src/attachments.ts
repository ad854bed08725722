import { z } from 'zod';

/**
 * A file to attach to a mail, by reference: the mailer stores only the object-storage key, and the worker loads
 * the bytes when it sends (so the queue and the delivery row never carry a PDF).
 */
export interface MailAttachment {
  /** Shown to the recipient, e.g. `GH-2026-000042.pdf`: letters, digits, `._ -` only (no header tricks). */
  filename: string;
  /** MIME type, e.g. `application/pdf`. */
  contentType: string;
  /** Object-storage key the worker passes to its `loadAttachment`. */
  storageKey: string;
}

/** Loads the bytes of an attachment; rejects (the delivery is retried) when the object is missing or unreadable. */
export type LoadAttachment = (storageKey: string) => Promise<Buffer>;

/** Most attachments per mail. */
export const MAX_MAIL_ATTACHMENTS = 5;

/**
 * Key under which the attachment list rides in the (encrypted) delivery payload next to the template data.
 * Template data never has `$` keys, and template schemas strip unknown keys, so older payloads and renderers
 * are unaffected.
 */
const ATTACHMENTS_FIELD = '$attachments';

export const mailAttachmentsSchema = z
  .array(
    z.object({
      filename: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$/, { error: 'must be a plain file name' }),
      contentType: z
        .string()
        .regex(/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i, { error: 'must be a MIME type' })
        .max(100),
      // The object-storage key alphabet (see @gatehouse/storage assertObjectKey).
      storageKey: z
        .string()
        .regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/, { error: 'must be an object-storage key' })
        .max(900),
    }),
  )
  .max(MAX_MAIL_ATTACHMENTS);

/** The JSON stored for a delivery: the template data, plus the attachment list when there is one. */
export function packMailPayload(data: unknown, attachments: readonly MailAttachment[] | undefined): unknown {
  if (!attachments || attachments.length === 0) return data;
  return { ...(data as Record<string, unknown>), [ATTACHMENTS_FIELD]: attachments };
}

/**
 * Splits a stored payload into template data and attachments (none for payloads written before attachments
 * existed). @throws ZodError when the attachment list is malformed.
 */
export function unpackMailPayload(payload: unknown): { data: unknown; attachments: MailAttachment[] } {
  if (typeof payload !== 'object' || payload === null || !Object.hasOwn(payload, ATTACHMENTS_FIELD)) {
    return { data: payload, attachments: [] };
  }
  const { [ATTACHMENTS_FIELD]: attachments, ...data } = payload as Record<string, unknown>;
  return { data, attachments: mailAttachmentsSchema.parse(attachments) };
}

/**
 * The mail worker's `loadAttachment` for attachments kept in object storage (invoice PDFs). Every service that
 * runs a mail worker must pass it: with Redis, any replica's worker may pick up any mail.
 */
export function objectStorageAttachmentLoader(storage: {
  get(key: string): Promise<{ body: Buffer } | null>;
}): LoadAttachment {
  return async (key) => {
    const object = await storage.get(key);
    if (!object) throw new Error('attachment object not found');
    return object.body;
  };
}
