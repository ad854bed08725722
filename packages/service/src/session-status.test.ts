import { randomUUID } from 'node:crypto';
import { MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createSessionStatusChecker, recordSessionRevoked, sessionStatusKey } from './session-status';

const viewer = (sessionId?: string) => ({
  userId: randomUUID(),
  roles: [],
  ...(sessionId ? { sessionId } : {}),
});

describe('createSessionStatusChecker', () => {
  let kv: MemoryKeyValueStore;
  let active: Set<string>;
  let queries: string[];
  const isSessionActive = async (sessionId: string) => {
    queries.push(sessionId);
    return active.has(sessionId);
  };

  beforeEach(() => {
    kv = new MemoryKeyValueStore();
    active = new Set();
    queries = [];
  });

  afterEach(async () => {
    await kv.close();
  });

  it('asks the record once per cache period for an active session', async () => {
    const check = createSessionStatusChecker({ kv, isSessionActive });
    const sid = randomUUID();
    active.add(sid);
    expect(await check(viewer(sid))).toBe(true);
    expect(await check(viewer(sid))).toBe(true);
    expect(queries).toEqual([sid]);
    expect(await kv.ttlSeconds(sessionStatusKey(sid))).toBe(15);
  });

  it('caches a negative answer too', async () => {
    const check = createSessionStatusChecker({ kv, isSessionActive });
    const sid = randomUUID();
    expect(await check(viewer(sid))).toBe(false);
    expect(await check(viewer(sid))).toBe(false);
    expect(queries).toEqual([sid]);
  });

  it('refuses at once after a revocation is recorded, despite a cached positive answer', async () => {
    const check = createSessionStatusChecker({ kv, isSessionActive, cacheSeconds: 600 });
    const sid = randomUUID();
    active.add(sid);
    expect(await check(viewer(sid))).toBe(true);
    await recordSessionRevoked(kv, sid);
    expect(await check(viewer(sid))).toBe(false);
    expect(queries).toEqual([sid]);
  });

  it('does not let a positive answer overwrite a revocation recorded while it was being fetched', async () => {
    const sid = randomUUID();
    const check = createSessionStatusChecker({
      kv,
      isSessionActive: async () => {
        // The session is revoked between the Postgres read and the cache write.
        await recordSessionRevoked(kv, sid);
        return true;
      },
    });
    expect(await check(viewer(sid))).toBe(true);
    expect(await check(viewer(sid))).toBe(false);
  });

  it('asks the record again once the cache entry is gone (expired or flushed)', async () => {
    const check = createSessionStatusChecker({ kv, isSessionActive, cacheSeconds: 0.05 });
    const sid = randomUUID();
    active.add(sid);
    expect(await check(viewer(sid))).toBe(true);
    active.delete(sid);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await check(viewer(sid))).toBe(false);
    expect(queries).toEqual([sid, sid]);
  });

  it('passes tokens that are not tied to a session without a lookup', async () => {
    const check = createSessionStatusChecker({ kv, isSessionActive });
    expect(await check(viewer())).toBe(true);
    expect(queries).toEqual([]);
  });

  it('falls back to the record when the store fails, and reports it', async () => {
    const broken: Pick<KeyValueStore, 'get' | 'set'> = {
      get: () => Promise.reject(new Error('redis down')),
      set: () => Promise.reject(new Error('redis down')),
    };
    const errors: unknown[] = [];
    const check = createSessionStatusChecker({
      kv: broken,
      isSessionActive,
      onCacheError: (err) => errors.push(err),
    });
    const sid = randomUUID();
    active.add(sid);
    expect(await check(viewer(sid))).toBe(true);
    expect(await check(viewer(randomUUID()))).toBe(false);
    expect(errors).toHaveLength(4);
  });

  it('rejects a cache period that is not positive', () => {
    expect(() => createSessionStatusChecker({ kv, isSessionActive, cacheSeconds: 0 })).toThrow(RangeError);
  });
});

describe('recordSessionRevoked', () => {
  it('writes the negative entry with the given lifetime', async () => {
    const kv = new MemoryKeyValueStore();
    await recordSessionRevoked(kv, 's1', { ttlSeconds: 120 });
    expect(await kv.get(sessionStatusKey('s1'))).toBe('0');
    expect(await kv.ttlSeconds(sessionStatusKey('s1'))).toBe(120);
    await kv.close();
  });
});
