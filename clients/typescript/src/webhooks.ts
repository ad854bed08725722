/**
 * Verifies the `Gatehouse-Signature` header of billing's outbound webhooks, with Web Crypto only, so it runs
 * in Node 24, browsers, Deno and edge runtimes. The scheme (subgraphs/billing/src/outbound-webhooks/signature.ts):
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, the whole `whsec_...` secret as the key.
 */

/** The header billing signs with. */
export const WEBHOOK_SIGNATURE_HEADER = 'Gatehouse-Signature';
/** The header carrying the event id: deliveries are at-least-once, so de-duplicate on it. */
export const WEBHOOK_EVENT_ID_HEADER = 'Gatehouse-Event-Id';
/** Signatures older (or newer) than this are refused by default: limits the replay of a captured request. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

export type WebhookSignatureFailure =
  'malformed-header' | 'timestamp-outside-tolerance' | 'signature-mismatch';

export type WebhookSignatureResult =
  { valid: true; timestamp: number } | { valid: false; reason: WebhookSignatureFailure };

export interface VerifyWebhookSignatureOptions {
  /** Largest accepted difference between `now` and the signed timestamp, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** Clock. Default: the system clock. */
  now?: () => Date;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Compares two equal-length MACs without an early exit (the length of a SHA-256 MAC is no secret). */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i += 1) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

function bodyBytes(rawBody: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof rawBody === 'string') return encoder.encode(rawBody);
  return rawBody instanceof Uint8Array ? rawBody : new Uint8Array(rawBody);
}

function parseHeader(header: string): { timestamp: number; signatures: Uint8Array[] } | undefined {
  let timestamp: number | undefined;
  const signatures: Uint8Array[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator <= 0) return undefined;
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== undefined) return undefined;
      timestamp = Number(value);
    } else if (key === 'v1' && HEX_SHA256.test(value)) {
      signatures.push(hexBytes(value));
    }
    // Other schemes (a future v2) are skipped, so the server can add them without breaking receivers.
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures };
}

/**
 * Checks a `Gatehouse-Signature` header against the raw request body. Pass the body exactly as received (the
 * bytes or string before any JSON parsing: re-serialising changes them). Every `v1=` entry is tried, without an
 * early exit, in constant time per entry. Never throws for bad input: the result says why it is refused.
 */
export async function verifyWebhookSignature(
  rawBody: string | Uint8Array | ArrayBuffer,
  header: string | null | undefined,
  secret: string,
  options: VerifyWebhookSignatureOptions = {},
): Promise<WebhookSignatureResult> {
  if (typeof secret !== 'string' || secret === '')
    throw new TypeError('verifyWebhookSignature: secret is empty');
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  const now = options.now ?? (() => new Date());
  if (typeof header !== 'string' || header.length > 4096) return { valid: false, reason: 'malformed-header' };
  const parsed = parseHeader(header);
  if (!parsed) return { valid: false, reason: 'malformed-header' };
  const { timestamp, signatures } = parsed;
  if (Math.abs(Math.floor(now().getTime() / 1000) - timestamp) > tolerance) {
    return { valid: false, reason: 'timestamp-outside-tolerance' };
  }
  const { subtle } = globalThis.crypto;
  const key = await subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const prefix = encoder.encode(`${timestamp}.`);
  const body = bodyBytes(rawBody);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);
  const expected = new Uint8Array(await subtle.sign('HMAC', key, signed));
  let matched = false;
  for (const signature of signatures) matched = constantTimeEqual(signature, expected) || matched;
  return matched ? { valid: true, timestamp } : { valid: false, reason: 'signature-mismatch' };
}
