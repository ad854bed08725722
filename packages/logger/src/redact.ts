/** What replaces a secret value in log output. */
export const REDACTED = '[Redacted]';

/** Field names (lower-cased, without '-' or '_') that are always secret. */
const SECRET_NAMES = new Set([
  'otp',
  'backupcode',
  'backupcodes',
  'encryptionkeys',
  'cardnumber',
  'cvc',
  'cvv',
]);

/**
 * Suffixes that make a field secret: `password`, `newPassword`, `accessToken`, `refresh_token`, `clientSecret`,
 * `x-api-key`, `jwtPrivateKey`, `set-cookie`, `authorization`... Matching the end of the name keeps
 * `tokenExpiresAt` or `passwordChangedAt` readable.
 */
const SECRET_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'privatekey',
  'secretkey',
  'signingkey',
  'encryptionkey',
  'cookie',
  'authorization',
  'credential',
  'credentials',
];

export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_NAMES.has(normalized) || SECRET_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
}

const MAX_DEPTH = 10;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (Array.isArray(value) || isPlainObject(value)) {
    if (seen.has(value)) return '[Circular]';
    // Too deep to check cheaply; dropping it is safer than logging a secret.
    if (depth >= MAX_DEPTH) return '[Too deep]';
    seen.add(value);
    const result = Array.isArray(value)
      ? value.map((item) => walk(item, depth + 1, seen))
      : Object.fromEntries(
          Object.entries(value).map(([key, item]) => [
            key,
            isSecretKey(key) ? REDACTED : walk(item, depth + 1, seen),
          ]),
        );
    seen.delete(value);
    return result;
  }
  return value;
}

/**
 * Returns a copy of `value` with every secret-named field replaced by {@link REDACTED}, at any depth of plain
 * objects and arrays. The input is not modified. Class instances (Errors, Dates, Buffers...) are left alone.
 */
export function redactSecrets<T>(value: T): T {
  return walk(value, 0, new WeakSet()) as T;
}
