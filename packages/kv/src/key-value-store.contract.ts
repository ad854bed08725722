// The behaviour every KeyValueStore must have; run against each implementation (excluded from the build).
import { waitFor } from '@gatehouse/testing';
import { type KeyValueStore } from './key-value-store';

/** Registers the KeyValueStore contract for one implementation. `factory` must return a fresh, empty store. */
export function describeKeyValueStoreContract(
  name: string,
  factory: () => KeyValueStore | Promise<KeyValueStore>,
): void {
  describe(`KeyValueStore contract: ${name}`, () => {
    let store: KeyValueStore;

    beforeEach(async () => {
      store = await factory();
    });

    afterEach(async () => {
      await store.close();
    });

    it('returns null for a missing key', async () => {
      expect(await store.get('missing')).toBeNull();
    });

    it('stores, overwrites and deletes a value', async () => {
      expect(await store.set('k', 'one')).toBe(true);
      expect(await store.get('k')).toBe('one');
      expect(await store.set('k', 'two')).toBe(true);
      expect(await store.get('k')).toBe('two');
      expect(await store.delete('k')).toBe(true);
      expect(await store.delete('k')).toBe(false);
      expect(await store.get('k')).toBeNull();
    });

    it('keeps values verbatim, including JSON and unicode', async () => {
      const value = JSON.stringify({ name: 'Zoë 🚀', list: [1, 2], nested: { ok: true } });
      await store.set('json', value);
      expect(await store.get('json')).toBe(value);
      await store.set('empty', '');
      expect(await store.get('empty')).toBe('');
    });

    it('writes with onlyIfAbsent only when the key does not exist', async () => {
      expect(await store.set('nx', 'first', { onlyIfAbsent: true })).toBe(true);
      expect(await store.set('nx', 'second', { onlyIfAbsent: true })).toBe(false);
      expect(await store.get('nx')).toBe('first');
      await store.delete('nx');
      expect(await store.set('nx', 'third', { onlyIfAbsent: true, ttlSeconds: 60 })).toBe(true);
      expect(await store.get('nx')).toBe('third');
    });

    it('lets only one of many concurrent onlyIfAbsent writers win', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.set('lock', `owner-${i}`, { onlyIfAbsent: true })),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('expires a key after its ttl and then treats it as absent', async () => {
      await store.set('short', 'v', { ttlSeconds: 0.15 });
      expect(await store.get('short')).toBe('v');
      await waitFor(async () => (await store.get('short')) === null, { what: 'expiry' });
      expect(await store.set('short', 'again', { onlyIfAbsent: true })).toBe(true);
    });

    it('reports the remaining ttl, and null without expiry or key', async () => {
      await store.set('ttl', 'v', { ttlSeconds: 60 });
      const ttl = await store.ttlSeconds('ttl');
      expect(ttl).toBeGreaterThanOrEqual(59);
      expect(ttl).toBeLessThanOrEqual(60);
      // A plain set replaces the expiry, like Redis SET.
      await store.set('ttl', 'v2');
      expect(await store.ttlSeconds('ttl')).toBeNull();
      expect(await store.ttlSeconds('missing')).toBeNull();
    });

    it('rejects a ttl that is not a positive number', async () => {
      await expect(store.set('bad', 'v', { ttlSeconds: 0 })).rejects.toThrow(RangeError);
      await expect(store.set('bad', 'v', { ttlSeconds: -5 })).rejects.toThrow(RangeError);
      await expect(store.increment('bad', { ttlSeconds: Number.NaN })).rejects.toThrow(RangeError);
      expect(await store.get('bad')).toBeNull();
    });

    it('increments from zero, by any integer amount', async () => {
      expect(await store.increment('count')).toBe(1);
      expect(await store.increment('count', { by: 5 })).toBe(6);
      expect(await store.increment('count', { by: -10 })).toBe(-4);
      expect(await store.get('count')).toBe('-4');
      await expect(store.increment('count', { by: 1.5 })).rejects.toThrow(RangeError);
    });

    it('increments a value written with set, and rejects a non-integer value', async () => {
      await store.set('n', '41');
      expect(await store.increment('n')).toBe(42);
      await store.set('text', 'abc');
      await expect(store.increment('text')).rejects.toThrow();
      expect(await store.get('text')).toBe('abc');
    });

    it('increments atomically under concurrency', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, () => store.increment('hits')));
      expect(new Set(results).size).toBe(50);
      expect(await store.get('hits')).toBe('50');
    });

    it('applies the increment ttl when the key is created and never extends it (fixed window)', async () => {
      await store.increment('window', { ttlSeconds: 60 });
      await store.increment('window', { ttlSeconds: 600 });
      const ttl = await store.ttlSeconds('window');
      expect(ttl).toBeGreaterThanOrEqual(59);
      expect(ttl).toBeLessThanOrEqual(60);
    });

    it('gives a counter without expiry the increment ttl', async () => {
      await store.increment('plain');
      expect(await store.ttlSeconds('plain')).toBeNull();
      expect(await store.increment('plain', { ttlSeconds: 30 })).toBe(2);
      expect(await store.ttlSeconds('plain')).toBe(30);
    });

    it('starts a new window once the counter expires', async () => {
      await store.increment('attempts', { ttlSeconds: 0.15 });
      expect(await store.increment('attempts', { ttlSeconds: 0.15 })).toBe(2);
      await waitFor(async () => (await store.get('attempts')) === null, { what: 'counter expiry' });
      expect(await store.increment('attempts', { ttlSeconds: 0.15 })).toBe(1);
    });

    it('answers ping and closes idempotently', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      await store.close();
      await store.close();
    });
  });
}
