import {
  assertIncrementAmount,
  ttlToMilliseconds,
  type IncrementOptions,
  type KeyValueStore,
  type SetOptions,
} from './key-value-store';

export interface MemoryKeyValueStoreOptions {
  /** How often expired keys are swept (they are also dropped lazily on access). Default 60 s. */
  sweepIntervalMs?: number;
}

interface Entry {
  value: string;
  /** Epoch milliseconds, or null for no expiry. */
  expiresAt: number | null;
}

const INTEGER = /^-?\d+$/;

/**
 * In-process {@link KeyValueStore} for the embedded single-process deployment and for tests.
 * State is per instance and lost on restart; share one instance across everything in the process.
 */
export class MemoryKeyValueStore implements KeyValueStore {
  private readonly entries = new Map<string, Entry>();
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;

  constructor(options: MemoryKeyValueStoreOptions = {}) {
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    // The sweep is housekeeping only; it must never keep the process alive.
    this.sweepTimer.unref();
  }

  async get(key: string): Promise<string | null> {
    this.assertOpen();
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    this.assertOpen();
    const expiresAt =
      options.ttlSeconds === undefined ? null : Date.now() + ttlToMilliseconds(options.ttlSeconds);
    if (options.onlyIfAbsent && this.live(key)) return false;
    this.entries.set(key, { value, expiresAt });
    return true;
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    const existed = this.live(key) !== undefined;
    this.entries.delete(key);
    return existed;
  }

  async increment(key: string, options: IncrementOptions = {}): Promise<number> {
    this.assertOpen();
    const by = options.by ?? 1;
    assertIncrementAmount(by);
    const ttlMs = options.ttlSeconds === undefined ? undefined : ttlToMilliseconds(options.ttlSeconds);
    const entry = this.live(key);
    let current = 0;
    if (entry) {
      current = Number(entry.value);
      if (!INTEGER.test(entry.value) || !Number.isSafeInteger(current)) {
        throw new Error(`value at "${key}" is not an integer`);
      }
    }
    const next = current + by;
    if (!Number.isSafeInteger(next)) throw new RangeError(`increment of "${key}" overflows`);
    const expiresAt = entry?.expiresAt ?? (ttlMs === undefined ? null : Date.now() + ttlMs);
    this.entries.set(key, { value: String(next), expiresAt });
    return next;
  }

  async ttlSeconds(key: string): Promise<number | null> {
    this.assertOpen();
    const expiresAt = this.live(key)?.expiresAt;
    if (expiresAt === undefined || expiresAt === null) return null;
    return Math.ceil((expiresAt - Date.now()) / 1000);
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.entries.clear();
  }

  /** The entry if present and unexpired; expired entries are removed on the way. */
  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) this.entries.delete(key);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryKeyValueStore is closed');
  }
}
