export type { IncrementOptions, KeyValueStore, SetOptions } from './key-value-store';
export { MemoryKeyValueStore, type MemoryKeyValueStoreOptions } from './memory-key-value-store';
export {
  RedisKeyValueStore,
  type KeyValueStoreLogger,
  type RedisKeyValueStoreOptions,
} from './redis-key-value-store';
export { createKeyValueStore, type CreateKeyValueStoreOptions } from './create-key-value-store';
