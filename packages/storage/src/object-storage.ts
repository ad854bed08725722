import { PUBLIC_PREFIX, assertObjectKey } from './object-key';

/**
 * Binary object storage: avatars (public, under `public/`) and data exports (private, reached through signed
 * URLs). Two implementations behave the same (one contract test suite runs against both): S3 (AWS, MinIO, any
 * S3-compatible store) for deployments with more than one host, and the filesystem for the embedded default.
 *
 * Keys follow {@link assertObjectKey}; a bad key is a bug and throws `InvalidObjectKeyError`.
 */
export interface ObjectStorage {
  /** Which implementation this is (for logs and health output). */
  readonly driver: 'filesystem' | 's3';
  /** Stores `body` under `key`, replacing any previous object. Readers see the old or the new object, never a mix. */
  put(key: string, body: Buffer, options: PutObjectOptions): Promise<void>;
  /** The object, or null when there is none. */
  get(key: string): Promise<StoredObject | null>;
  /** Removes the object; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Removes every object whose key starts with `prefix` (plain string prefix, as in S3: `users/1` also matches
   * `users/12/...`; end it with `/` to mean one folder). Used to purge a user's files.
   * @returns how many objects were removed.
   */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Stable, cacheable URL of a public object (its key must start with {@link PUBLIC_PREFIX}; other keys throw).
   * Put a new key for new content (e.g. one per upload) instead of overwriting, so caches never serve stale bytes.
   */
  publicUrl(key: string): string;
  /**
   * Time-limited URL for any object (used for private ones: exports). Anyone holding it can read the object
   * until it expires; expired or altered URLs are refused.
   */
  signedUrl(key: string, options: SignedUrlOptions): Promise<string>;
  /** Resolves when the storage is usable; rejects otherwise (readiness checks). */
  ping(): Promise<void>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

export interface PutObjectOptions {
  /** MIME type sent back when the object is served, e.g. `image/webp`. */
  contentType: string;
  /**
   * Cache-Control sent back when the object is served. Default: {@link PUBLIC_CACHE_CONTROL} for public keys
   * (their URLs are unique per content), {@link PRIVATE_CACHE_CONTROL} otherwise.
   */
  cacheControl?: string;
}

export interface StoredObject {
  body: Buffer;
  contentType: string;
  cacheControl: string;
}

export interface SignedUrlOptions {
  /** Whole seconds, 1 to {@link MAX_SIGNED_URL_SECONDS}. */
  expiresInSeconds: number;
}

/** Seven days: the longest lifetime S3 (SigV4) allows for a presigned URL, and what data exports use. */
export const MAX_SIGNED_URL_SECONDS = 7 * 24 * 60 * 60;

/** Public objects never change under their key, so caches may keep them for a year without revalidating. */
export const PUBLIC_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** Private objects (exports) must not sit in shared or browser caches after the download. */
export const PRIVATE_CACHE_CONTROL = 'private, no-store';

// type/subtype with optional `; name=value` parameters; no CR/LF or other control characters (header injection).
const TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
const CONTENT_TYPE = new RegExp(
  `^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\x00-\\x1f\\x7f]*"))*$`,
);
const PRINTABLE = /^[\x20-\x7e]+$/;

/** Validates put options and fills in the default Cache-Control. @throws RangeError */
export function resolvePutOptions(
  key: string,
  options: PutObjectOptions,
): { contentType: string; cacheControl: string } {
  assertObjectKey(key);
  if (!CONTENT_TYPE.test(options.contentType))
    throw new RangeError('contentType must be a MIME type like image/webp');
  const cacheControl =
    options.cacheControl ?? (key.startsWith(PUBLIC_PREFIX) ? PUBLIC_CACHE_CONTROL : PRIVATE_CACHE_CONTROL);
  if (!PRINTABLE.test(cacheControl)) throw new RangeError('cacheControl must be printable ASCII');
  return { contentType: options.contentType, cacheControl };
}

/** @throws RangeError unless `expiresInSeconds` is a whole number of seconds from 1 to 7 days. */
export function assertSignedUrlLifetime(expiresInSeconds: number): void {
  if (
    !Number.isInteger(expiresInSeconds) ||
    expiresInSeconds < 1 ||
    expiresInSeconds > MAX_SIGNED_URL_SECONDS
  ) {
    throw new RangeError(`expiresInSeconds must be an integer from 1 to ${MAX_SIGNED_URL_SECONDS}`);
  }
}

/** @throws InvalidObjectKeyError / RangeError unless `key` is a valid public key. */
export function assertPublicKey(key: string): void {
  assertObjectKey(key);
  if (!key.startsWith(PUBLIC_PREFIX)) {
    throw new RangeError(
      `publicUrl is only for keys under ${PUBLIC_PREFIX}; use signedUrl for private objects`,
    );
  }
}

/** `base` without trailing slashes, checked to be an http(s) URL without query or fragment. */
export function normalizeBaseUrl(base: string, name: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new RangeError(`${name} must be an http:// or https:// URL`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new RangeError(`${name} must be an http:// or https:// URL without query or fragment`);
  }
  return base.replace(/\/+$/, '');
}
