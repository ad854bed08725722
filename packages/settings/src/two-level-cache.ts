import type { KeyValueStore } from '@gatehouse/kv';

/** Where cache failures are reported; the cache then falls through to the database. */
export type CacheErrorReporter = (error: unknown, context: { key: string }) => void;

export interface TwoLevelCacheOptions<T> {
  kv: KeyValueStore;
  /** The shared-store key of an entry, e.g. `settings:v1:<key>`. Bump the version when the entry shape changes. */
  kvKey: (key: string) => string;
  ttlSeconds: number;
  /** Reads the entry from the database on a miss. */
  load: (key: string) => Promise<T>;
  onError: CacheErrorReporter;
  now?: () => number;
}

/**
 * A read-through cache in two levels: this process (a Map) and the store every replica shares (KV), both for
 * `ttlSeconds`.
 *
 * Staleness rules, which the tests pin:
 * - A writer calls {@link write} after its transaction committed: it overwrites the shared entry. Readers fill
 *   the shared entry with `onlyIfAbsent`, so a reader that loaded the old row before the commit cannot write it
 *   back over the new one.
 * - {@link dropLocal} (on the writer, and in other processes on the invalidation event) forgets the local entry
 *   and bumps the key's generation: a load that started before cannot store its (possibly old) result locally.
 * - KV failures are reported and the database answers: settings must keep working when Redis does not.
 */
export class TwoLevelCache<T> {
  private readonly local = new Map<string, { value: T; expiresAt: number }>();
  private readonly generations = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: TwoLevelCacheOptions<T>) {
    this.now = options.now ?? Date.now;
  }

  /** The cached entry, or the database's (then cached). */
  async get(key: string): Promise<T> {
    const hit = this.local.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const generation = this.generations.get(key) ?? 0;
    const value = await this.readThrough(key);
    if ((this.generations.get(key) ?? 0) === generation) {
      this.local.set(key, { value, expiresAt: this.now() + this.options.ttlSeconds * 1000 });
    }
    return value;
  }

  /** Publishes a freshly committed entry to the shared store and forgets the local one. */
  async write(key: string, value: T): Promise<void> {
    this.dropLocal(key);
    try {
      await this.options.kv.set(this.options.kvKey(key), JSON.stringify(value), {
        ttlSeconds: this.options.ttlSeconds,
      });
    } catch (error) {
      // Fall back to removing the entry; if that fails too, other replicas see the change within the TTL.
      this.options.onError(error, { key });
      await this.options.kv.delete(this.options.kvKey(key)).catch((err: unknown) => {
        this.options.onError(err, { key });
      });
    }
    this.dropLocal(key);
  }

  /** Forgets this process's entry for `key` (an invalidation event from another process). */
  dropLocal(key: string): void {
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    this.local.delete(key);
  }

  /** Forgets every local entry (tests, or a bus reconnect when events may have been missed). */
  clearLocal(): void {
    for (const key of [...this.local.keys()]) this.dropLocal(key);
  }

  private async readThrough(key: string): Promise<T> {
    const kvKey = this.options.kvKey(key);
    try {
      const cached = await this.options.kv.get(kvKey);
      if (cached !== null) return JSON.parse(cached) as T;
    } catch (error) {
      this.options.onError(error, { key });
    }
    const value = await this.options.load(key);
    try {
      await this.options.kv.set(kvKey, JSON.stringify(value), {
        ttlSeconds: this.options.ttlSeconds,
        onlyIfAbsent: true,
      });
    } catch (error) {
      this.options.onError(error, { key });
    }
    return value;
  }
}
