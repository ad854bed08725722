import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
export const SIGNATURE_HEADER = 'Gatehouse-Signature';
/** Header carrying the event id, so receivers can de-duplicate (deliveries are at-least-once). */
export const EVENT_ID_HEADER = 'Gatehouse-Event-Id';
/** Receivers refuse signatures older (or newer) than this by default: limits replay of a captured request. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/** Prefix of every signing secret, so a leaked one is recognisable (secret scanners, log review). */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

function hmacHex(secret: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', secret)
    .update(`${timestamp}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('hex');
}

/**
 * The `Gatehouse-Signature` value for `body` sent at `timestamp` (unix seconds). The timestamp is inside the MAC
 * so a receiver checking its age can trust it. The secret is used as-is (the whole `whsec_...` string) as key.
 */
export function signWebhookPayload(secret: string, body: string | Buffer, timestamp: number): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new RangeError('timestamp must be unix seconds');
  return `t=${timestamp},v1=${hmacHex(secret, timestamp, body)}`;
}

export type WebhookSignatureFailure =
  'malformed-header' | 'timestamp-outside-tolerance' | 'signature-mismatch';

export type WebhookSignatureResult =
  { valid: true; timestamp: number } | { valid: false; reason: WebhookSignatureFailure };

export interface VerifyWebhookSignatureOptions {
  /** Largest accepted difference between `now` and the signed timestamp. Default 300 s. */
  toleranceSeconds?: number;
  /** Clock. Default: the system clock. */
  now?: () => Date;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Checks a `Gatehouse-Signature` header against the raw request body, for receivers (and our own tests).
 * Pass the body exactly as received (a Buffer, before any JSON parsing: re-serialising changes the bytes).
 * Every `v1=` entry is tried, so a future header carrying several signatures still verifies; the comparison
 * is constant-time.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  rawBody: string | Buffer,
  options: VerifyWebhookSignatureOptions = {},
): WebhookSignatureResult {
  const tolerance = options.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  const now = options.now ?? (() => new Date());
  if (typeof header !== 'string' || header.length > 4096) return { valid: false, reason: 'malformed-header' };
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator <= 0) return { valid: false, reason: 'malformed-header' };
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== undefined)
        return { valid: false, reason: 'malformed-header' };
      timestamp = Number(value);
    } else if (key === 'v1' && HEX_SHA256.test(value)) {
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (a future v2) are ignored, not refused, so they can be added without breaking receivers.
  }
  if (timestamp === undefined || signatures.length === 0) return { valid: false, reason: 'malformed-header' };
  if (Math.abs(Math.floor(now().getTime() / 1000) - timestamp) > tolerance) {
    return { valid: false, reason: 'timestamp-outside-tolerance' };
  }
  const expected = Buffer.from(hmacHex(secret, timestamp, rawBody), 'hex');
  // Checks every candidate (no early exit) so timing does not reveal which one matched.
  let matched = false;
  for (const signature of signatures) matched = timingSafeEqual(signature, expected) || matched;
  return matched ? { valid: true, timestamp } : { valid: false, reason: 'signature-mismatch' };
}
