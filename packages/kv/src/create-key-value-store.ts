import { type KeyValueStore } from './key-value-store';
import { MemoryKeyValueStore } from './memory-key-value-store';
import { RedisKeyValueStore, type KeyValueStoreLogger } from './redis-key-value-store';

export interface CreateKeyValueStoreOptions {
  /** When set, state lives in Redis and is shared by every replica; otherwise it is in-process. */
  redisUrl?: string;
  /** Redis key namespace (see {@link RedisKeyValueStore}). Ignored in-process. */
  prefix?: string;
  logger?: KeyValueStoreLogger;
}

/** Redis when `redisUrl` is given, otherwise the in-process store of the embedded single-process deployment. */
export function createKeyValueStore(options: CreateKeyValueStoreOptions = {}): KeyValueStore {
  const { redisUrl, prefix, logger } = options;
  if (redisUrl) return new RedisKeyValueStore({ redisUrl, prefix, logger });
  return new MemoryKeyValueStore();
}
