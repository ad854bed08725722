import DataLoader from 'dataloader';

/**
 * Upper bound of keys per batch. Keeps each SQL `IN (...)`/`= ANY($1)` list (and its result set) bounded
 * when a single request resolves a very large list of entities.
 */
export const DEFAULT_MAX_BATCH_SIZE = 500;

export interface LoaderOptions {
  /** Override {@link DEFAULT_MAX_BATCH_SIZE}. */
  maxBatchSize?: number;
}

/**
 * A DataLoader for a one-to-one lookup (`id -> row`). `batchFn` may return rows in any order and may omit
 * keys that do not exist; results are matched back by `keyOf(row)` and missing keys resolve to `null`.
 *
 * Create loaders per request (in the GraphQL context): DataLoader caches forever, so a shared instance
 * would serve stale data and leak rows across viewers.
 */
export function loaderByKey<K extends string | number, V>(
  batchFn: (keys: readonly K[]) => Promise<readonly V[]>,
  keyOf: (value: V) => K,
  options: LoaderOptions = {},
): DataLoader<K, V | null> {
  return new DataLoader<K, V | null>(
    async (keys) => {
      const rows = await batchFn(keys);
      const byKey = new Map<K, V>();
      for (const row of rows) byKey.set(keyOf(row), row);
      return keys.map((key) => byKey.get(key) ?? null);
    },
    { maxBatchSize: options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE },
  );
}

/**
 * A DataLoader for a one-to-many lookup (`userId -> roles`). Rows are grouped by `keyOf(row)` preserving
 * the order `batchFn` returned them in; keys without rows resolve to an empty array.
 */
export function groupedLoaderByKey<K extends string | number, V>(
  batchFn: (keys: readonly K[]) => Promise<readonly V[]>,
  keyOf: (value: V) => K,
  options: LoaderOptions = {},
): DataLoader<K, V[]> {
  return new DataLoader<K, V[]>(
    async (keys) => {
      const rows = await batchFn(keys);
      const byKey = new Map<K, V[]>();
      for (const row of rows) {
        const key = keyOf(row);
        const group = byKey.get(key);
        if (group) group.push(row);
        else byKey.set(key, [row]);
      }
      return keys.map((key) => byKey.get(key) ?? []);
    },
    { maxBatchSize: options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE },
  );
}
