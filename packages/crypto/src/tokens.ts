import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Compares secrets without leaking, through timing, where they differ or how long the expected one is.
 * Both sides are hashed first so timingSafeEqual always sees equal lengths (it throws otherwise).
 */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const digestA = createHash('sha256').update(a).digest();
  const digestB = createHash('sha256').update(b).digest();
  return timingSafeEqual(digestA, digestB);
}

/** A URL-safe random token (base64url, no padding). At least 16 bytes (128 bits) so it cannot be guessed. */
export function generateToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 16 || bytes > 1024) {
    throw new RangeError('generateToken: bytes must be an integer between 16 and 1024');
  }
  return randomBytes(bytes).toString('base64url');
}

/**
 * SHA-256 hex digest for storing high-entropy tokens (sessions, resets, API keys): a database leak does not
 * reveal usable tokens, and lookups stay indexable. Not for passwords — use the argon2id hasher for those.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
