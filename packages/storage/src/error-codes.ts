/**
 * Codes the file routes of the filesystem storage return as `code` in their JSON error bodies. Stable across
 * releases: clients (the export download page) switch on them.
 */
export const StorageErrorCode = {
  /** The signed URL was genuine but its lifetime is over: ask for a new one. */
  SIGNED_URL_EXPIRED: 'SIGNED_URL_EXPIRED',
  /** The signature is missing or does not match the key and expiry (altered, truncated or forged URL). */
  SIGNED_URL_INVALID: 'SIGNED_URL_INVALID',
  /** The path is not a valid object key (e.g. `..`, encoded characters). */
  OBJECT_KEY_INVALID: 'OBJECT_KEY_INVALID',
  /** No object under this key (deleted, or never stored). */
  OBJECT_NOT_FOUND: 'OBJECT_NOT_FOUND',
  /** Only GET and HEAD are served. */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
} as const;

export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];
