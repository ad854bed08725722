/**
 * A small string key/value store with expiry and atomic counters.
 *
 * Backs short-lived state shared by every replica of a service: rate-limit windows, login lockout counters,
 * one-time nonces. Values are strings; callers JSON-encode structured values themselves.
 */
export interface KeyValueStore {
  /** The value, or null when the key does not exist or has expired. */
  get(key: string): Promise<string | null>;
  /**
   * Stores `value` under `key`, replacing any previous value and expiry.
   * @returns false only when `onlyIfAbsent` is set and the key already exists (nothing is written); true otherwise.
   */
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** @returns true when a key was removed. */
  delete(key: string): Promise<boolean>;
  /**
   * Atomically adds `by` (default 1) to the integer stored at `key`, treating a missing key as 0.
   * `ttlSeconds` is applied only when the key has no expiry yet (i.e. when this call creates it), so repeated
   * increments never extend the window: this is a fixed-window counter. Rejects when the stored value is not
   * an integer.
   * @returns the value after the increment.
   */
  increment(key: string, options?: IncrementOptions): Promise<number>;
  /** Remaining lifetime in whole seconds (rounded up), or null when the key does not exist or never expires. */
  ttlSeconds(key: string): Promise<number | null>;
  /** Resolves when the store is reachable; rejects otherwise (used by health checks). */
  ping(): Promise<void>;
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>;
}

export interface SetOptions {
  /** Expire the key after this many seconds (fractions allowed, millisecond precision). */
  ttlSeconds?: number;
  /** Only write when the key does not exist (Redis `SET NX`). */
  onlyIfAbsent?: boolean;
}

export interface IncrementOptions {
  /** Amount to add; a safe integer, may be negative. Default 1. */
  by?: number;
  /** Expiry applied when the increment creates the key (see {@link KeyValueStore.increment}). */
  ttlSeconds?: number;
}

/** Converts a TTL in seconds to whole milliseconds, rejecting values that would silently mean "forever". */
export function ttlToMilliseconds(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive number, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

export function assertIncrementAmount(by: number): void {
  if (!Number.isSafeInteger(by)) {
    throw new RangeError(`increment amount must be a safe integer, got ${by}`);
  }
}
