import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/crypto';

/** Query parameters of a filesystem signed URL: `?expires=<unix seconds>&signature=<base64url HMAC>`. */
export const EXPIRES_PARAM = 'expires';
export const SIGNATURE_PARAM = 'signature';

/** Shortest accepted signing secret: 32 characters, e.g. `openssl rand -base64 32`. */
export const MIN_SIGNING_SECRET_LENGTH = 32;

/** What a signed URL check found. `invalid` wins over `expired`: an altered URL never learns about expiry. */
export type SignedUrlVerdict = 'valid' | 'expired' | 'invalid';

const EXPIRES = /^\d{1,12}$/;

/**
 * HMAC-SHA256 over a versioned, newline-separated message, so a signature for one key or expiry never fits
 * another (keys cannot contain newlines).
 */
export function signObjectUrl(secret: string, key: string, expiresAtSeconds: number | string): string {
  return createHmac('sha256', secret)
    .update(`gatehouse-storage-url-v1\n${key}\n${expiresAtSeconds}`, 'utf8')
    .digest('base64url');
}

/** Checks the signature first (constant time), then the expiry against `nowMs`. */
export function verifyObjectUrlSignature(
  secret: string,
  key: string,
  query: URLSearchParams,
  nowMs: number,
): SignedUrlVerdict {
  const expires = query.get(EXPIRES_PARAM);
  const signature = query.get(SIGNATURE_PARAM);
  if (expires === null || signature === null || !EXPIRES.test(expires)) return 'invalid';
  if (!constantTimeEqual(signObjectUrl(secret, key, expires), signature)) return 'invalid';
  return Number(expires) * 1000 <= nowMs ? 'expired' : 'valid';
}
