import { deleteRedisKeys, redisUrlForTests, uniqueTestPrefix, waitFor } from '@gatehouse/testing';
import { createKeyValueStore } from './create-key-value-store';
import { describeKeyValueStoreContract } from './key-value-store.contract';
import { MemoryKeyValueStore } from './memory-key-value-store';
import { RedisKeyValueStore } from './redis-key-value-store';

describeKeyValueStoreContract('in-process', () => new MemoryKeyValueStore());

const redisUrl = redisUrlForTests('@gatehouse/kv');
if (redisUrl) {
  const prefix = uniqueTestPrefix();
  let store = 0;
  // A fresh namespace per test keeps tests independent without flushing the shared Redis.
  describeKeyValueStoreContract(
    'redis',
    () => new RedisKeyValueStore({ redisUrl, prefix: `${prefix}:${store++}` }),
  );
  afterAll(() => deleteRedisKeys(redisUrl, prefix));

  it('createKeyValueStore uses Redis when given a redisUrl', async () => {
    const store = createKeyValueStore({ redisUrl, prefix });
    expect(store).toBeInstanceOf(RedisKeyValueStore);
    await store.ping();
    await store.close();
  });
}

describe('createKeyValueStore', () => {
  it('is in-process without a redisUrl', async () => {
    const store = createKeyValueStore();
    expect(store).toBeInstanceOf(MemoryKeyValueStore);
    await store.close();
  });
});

describe('MemoryKeyValueStore', () => {
  it('sweeps expired keys in the background', async () => {
    const store = new MemoryKeyValueStore({ sweepIntervalMs: 20 });
    await store.set('a', '1', { ttlSeconds: 0.05 });
    // Read the private map only to prove the sweep (a get() would expire the key lazily).
    const entries = (store as unknown as { entries: Map<string, unknown> }).entries;
    expect(entries.size).toBe(1);
    await waitFor(() => entries.size === 0, { what: 'sweep' });
    await store.close();
  });

  it('refuses use after close', async () => {
    const store = new MemoryKeyValueStore();
    await store.close();
    await expect(store.get('a')).rejects.toThrow('closed');
  });
});
