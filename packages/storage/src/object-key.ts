/**
 * Objects under this prefix are public (avatars): served without a signature and cacheable by anyone.
 * Everything else is private and only reachable through a signed URL. With S3 the bucket policy must grant
 * anonymous `s3:GetObject` on `<keyPrefix>public/*` and nothing else.
 */
export const PUBLIC_PREFIX = 'public/';

/** Longest accepted key (S3 allows 1024 bytes; the S3 key prefix needs some of them). */
export const MAX_KEY_LENGTH = 900;

/** Thrown for a key or prefix outside the allowed alphabet: a bug in the caller, never user input. */
export class InvalidObjectKeyError extends RangeError {
  constructor(what: 'key' | 'prefix', reason: string) {
    super(`invalid object ${what}: ${reason}`);
    this.name = 'InvalidObjectKeyError';
  }
}

const ALPHABET = /^[A-Za-z0-9/_.-]+$/;

/** The one reason `value` is not usable as a key (or, with `prefix`, as a key prefix), or null. */
function problemWith(value: string, prefix: boolean): string | null {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_KEY_LENGTH) return `must be at most ${MAX_KEY_LENGTH} characters`;
  if (!ALPHABET.test(value)) return 'may only contain A-Z a-z 0-9 / _ . -';
  if (value.startsWith('/')) return 'must not start with /';
  const segments = value.split('/');
  // A prefix may end with '/' (an empty last segment); a key may not, and no segment may be empty elsewhere.
  const inner = prefix && value.endsWith('/') ? segments.slice(0, -1) : segments;
  for (const segment of inner) {
    if (segment === '') return 'must not contain empty segments (//) or end with /';
    if (segment === '.' || segment === '..') return 'must not contain . or .. segments';
  }
  // Even inside a segment (`a..b`): keeps every path check trivially safe, and no real key needs it.
  if (value.includes('..')) return 'must not contain ..';
  return null;
}

/**
 * Checks an object key: `[A-Za-z0-9/_.-]`, no leading or trailing `/`, no empty, `.` or `..` segments, no
 * `..` anywhere. Keys therefore never need URL-encoding and can never leave a directory.
 * @throws InvalidObjectKeyError
 */
export function assertObjectKey(key: string): void {
  const problem = problemWith(key, false);
  if (problem) throw new InvalidObjectKeyError('key', problem);
}

/**
 * Checks a prefix for `deletePrefix`: the key rules, except that it may end with `/`. The empty prefix is
 * refused on purpose: nothing should be able to delete every object by accident.
 * @throws InvalidObjectKeyError
 */
export function assertObjectKeyPrefix(prefix: string): void {
  const problem = problemWith(prefix, true);
  if (problem) throw new InvalidObjectKeyError('prefix', problem);
}

/** True when `key` is a valid key under {@link PUBLIC_PREFIX}. */
export function isPublicKey(key: string): boolean {
  return key.startsWith(PUBLIC_PREFIX) && problemWith(key, false) === null;
}
