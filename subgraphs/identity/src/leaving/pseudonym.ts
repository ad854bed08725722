import { createHmac } from 'node:crypto';

/** Domain separation: the same key may serve other HMAC purposes without their outputs colliding with these. */
const PSEUDONYM_CONTEXT = 'gatehouse:user-pseudonym:v1:';

/** Below this a key could be guessed, and every pseudonym reversed by hashing all user ids. */
export const MIN_PSEUDONYM_KEY_BYTES = 32;

/**
 * The stable stand-in for a purged user's id in the records the law makes us keep (audit logs): a UUID (version 8,
 * RFC 9562 "custom") made of the first 16 bytes of HMAC-SHA256(key, userId). The same user always gets the same
 * pseudonym, so their audit trail stays one trail; without the key nobody can tell which user it was, even knowing
 * every user id. Fits `audit_logs.actor_user_id` (uuid) as well as `target_id` (text).
 */
export function pseudonymizeUserId(key: Buffer, userId: string): string {
  if (key.length < MIN_PSEUDONYM_KEY_BYTES) {
    throw new RangeError(`the pseudonym key must be at least ${MIN_PSEUDONYM_KEY_BYTES} bytes`);
  }
  const bytes = createHmac('sha256', key)
    .update(PSEUDONYM_CONTEXT + userId.toLowerCase())
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
