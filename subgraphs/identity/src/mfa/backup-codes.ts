import { randomBytes } from 'node:crypto';
import { hashToken } from '@gatehouse/crypto';

/** A fresh set holds this many codes. */
export const BACKUP_CODE_COUNT = 10;
/** Characters per code: 10 × 5 bits = 50 bits, out of reach of online guessing (which is rate limited). */
const CODE_LENGTH = 10;
/**
 * Crockford's base32: digits and lower-case letters without i, l, o and u, so nothing reads as something else;
 * typed i/l and o are read as 1 and 0. 32 symbols: each random byte's low 5 bits pick one without bias.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const NORMALIZED = /^[0-9a-hjkmnp-tv-z]{10}$/;

/** `count` new codes, displayed `xxxxx-xxxxx`. */
export function generateBackupCodes(count = BACKUP_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(CODE_LENGTH);
    const code = Array.from(bytes, (byte) => ALPHABET[byte & 31]).join('');
    return `${code.slice(0, 5)}-${code.slice(5)}`;
  });
}

/**
 * What a person typed, as stored: case-insensitive, with or without the hyphen (and stray spaces), i/l read as 1
 * and o as 0. Null when it cannot be a backup code.
 */
export function normalizeBackupCode(input: string): string | null {
  if (input.length > 32) return null;
  const code = input.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  return NORMALIZED.test(code) ? code : null;
}

/**
 * The stored form: SHA-256 of the normalized code salted with the owner's id, so one precomputed table does not
 * cover every account's codes at once.
 */
export function hashBackupCode(userId: string, normalizedCode: string): string {
  return hashToken(`${userId}:${normalizedCode}`);
}
