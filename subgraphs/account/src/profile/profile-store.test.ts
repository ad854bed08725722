import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AppError } from '@gatehouse/errors';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import { createFilesystemStorage, type ObjectStorage } from '@gatehouse/storage';
import {
  createTestDatabase,
  deleteRedisKeys,
  recordSqlStatements,
  redisUrlForTests,
  uniqueTestPrefix,
  type TestDatabase,
} from '@gatehouse/testing';
import { ProfileErrorCode } from './error-codes';
import { createProfileViewRepository } from './profile-view.repository';
import {
  PROFILE_CACHE_TTL_SECONDS,
  createProfileStore,
  profileCacheKey,
  type ProfileStore,
  type ProfileStoreOptions,
} from './profile-store';

let db: TestDatabase;
let storageDir: string;
let storage: ObjectStorage;
const redisUrl = redisUrlForTests('@gatehouse/subgraph-account profile store');
const redisPrefix = uniqueTestPrefix();

beforeAll(async () => {
  db = await createTestDatabase();
  storageDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-profile-'));
  storage = createFilesystemStorage({
    rootDir: storageDir,
    publicBaseUrl: 'http://files.test/files',
    signingSecret: 'profile-store-test-signing-secret-0123456789',
  });
});

afterAll(async () => {
  await db?.close();
  await rm(storageDir, { recursive: true, force: true });
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

async function newUser(profile?: Record<string, string | null>, status?: 'DELETED'): Promise<string> {
  const user = await db.prisma.user.create({
    data: { email: `${randomUUID()}@example.test`, status: status ?? 'ACTIVE' },
  });
  if (profile) await db.prisma.userProfile.create({ data: { userId: user.id, ...profile } });
  return user.id;
}

/** Counts the statements that read or write profiles while `action` runs. */
async function profileStatements<T>(action: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const sql = recordSqlStatements(db.pool);
  try {
    const result = await action();
    return { result, statements: sql.count('user_profiles') };
  } finally {
    sql.restore();
  }
}

/** Collects warning messages; the store only calls `warn`. */
function recordingLogger() {
  const warnings: string[] = [];
  const logger = {
    warn: (_details: object, message: string) => void warnings.push(message),
  } as unknown as Pick<Logger, 'warn'>; // pino's overloaded LogFn type; the store calls warn(details, message)
  return { warnings, logger };
}

async function failureOf(promise: Promise<unknown>): Promise<{ code: string; reason: unknown }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (caught: unknown) => caught,
  );
  if (!(error instanceof AppError)) throw error;
  return { code: error.code, reason: (error.details as { reason?: unknown } | undefined)?.reason };
}

type Store = { name: string; open(): KeyValueStore };
const stores: Store[] = [{ name: 'in-process store', open: () => new MemoryKeyValueStore() }];
if (redisUrl) {
  let n = 0;
  stores.push({
    name: 'Redis',
    open: () => createKeyValueStore({ redisUrl, prefix: `${redisPrefix}:${n++}` }),
  });
}

describe.each(stores)('profile store with the $name', ({ open }) => {
  const kvs: KeyValueStore[] = [];
  afterAll(async () => {
    await Promise.all(kvs.map((kv) => kv.close()));
  });

  function harness(options: Partial<ProfileStoreOptions> = {}): {
    store: ProfileStore;
    kv: KeyValueStore;
    warnings: string[];
  } {
    const kv = open();
    kvs.push(kv);
    const { warnings, logger } = recordingLogger();
    const store = createProfileStore({
      repository: createProfileViewRepository(db.prisma),
      kv,
      storage,
      logger,
      ...options,
    });
    return { store, kv, warnings };
  }

  it('loads N users with one statement, in order, and null for unknown, deleted and malformed ids', async () => {
    const { store } = harness();
    const alice = await newUser({ displayName: 'Alice', locale: 'en-GB', timezone: 'Europe/London' });
    const bob = await newUser({ displayName: 'Bob', bio: 'Hi', phone: '+14155550100' });
    const carol = await newUser(); // no profile row yet
    const deleted = await newUser({ displayName: 'Gone' }, 'DELETED');
    const unknown = randomUUID();

    const { result, statements } = await profileStatements(() =>
      store.loadMany([bob, unknown, alice, 'not-a-uuid', carol, deleted, alice]),
    );
    expect(statements).toBe(1);
    expect(result.map((view) => view?.displayName ?? null)).toEqual([
      'Bob',
      null,
      'Alice',
      null,
      null,
      null,
      'Alice',
    ]);
    const carolView = result[4];
    expect(carolView).toMatchObject({
      userId: carol,
      displayName: null,
      bio: null,
      phone: null,
      locale: null,
      timezone: null,
      avatar: null,
    });
    const users = await db.prisma.user.findMany({ where: { id: { in: [alice, bob, carol] } } });
    const createdAt = new Map(users.map((user) => [user.id, user.createdAt.toISOString()]));
    expect(carolView?.createdAt.toISOString()).toBe(createdAt.get(carol));
    expect(carolView?.updatedAt.toISOString()).toBe(createdAt.get(carol));
    const bobRow = await db.prisma.userProfile.findUniqueOrThrow({ where: { userId: bob } });
    expect(result[0]).toEqual({
      userId: bob,
      displayName: 'Bob',
      bio: 'Hi',
      phone: '+14155550100',
      locale: null,
      timezone: null,
      avatar: null,
      createdAt: new Date(createdAt.get(bob)!),
      updatedAt: bobRow.updatedAt,
    });
  });

  it('serves the second read from the cache (5 minute TTL), without SQL', async () => {
    const { store, kv } = harness();
    const ids = [await newUser({ displayName: 'Dora' }), await newUser(), await newUser({ bio: 'Eve' })];
    const first = await profileStatements(() => store.loadMany(ids));
    expect(first.statements).toBe(1);
    const second = await profileStatements(() => store.loadMany(ids));
    expect(second.statements).toBe(0);
    expect(second.result).toEqual(first.result);
    const ttl = await kv.ttlSeconds(profileCacheKey(ids[0]!));
    expect(ttl).toBeGreaterThan(PROFILE_CACHE_TTL_SECONDS - 5);
    expect(ttl).toBeLessThanOrEqual(PROFILE_CACHE_TTL_SECONDS);

    // Proof that the cache answered: a change behind the store's back is not seen.
    await db.prisma.userProfile.update({ where: { userId: ids[0]! }, data: { displayName: 'Changed' } });
    expect((await store.loadMany([ids[0]!]))[0]?.displayName).toBe('Dora');
  });

  it('reads only the misses from PostgreSQL', async () => {
    const { store } = harness();
    const cached = await newUser({ displayName: 'Cached' });
    await store.loadMany([cached]);
    await db.prisma.userProfile.update({ where: { userId: cached }, data: { displayName: 'Stale?' } });
    const fresh = await newUser({ displayName: 'Fresh' });
    const { result, statements } = await profileStatements(() => store.loadMany([cached, fresh]));
    expect(statements).toBe(1);
    expect(result.map((view) => view?.displayName)).toEqual(['Cached', 'Fresh']);
  });

  it('batches the loads of one tick through a per-request DataLoader', async () => {
    const { store } = harness();
    const ids = [await newUser({ displayName: 'A' }), await newUser({ displayName: 'B' }), await newUser()];
    const loader = store.createLoader();
    const { result, statements } = await profileStatements(() =>
      Promise.all([...ids, ids[0]!].map((id) => loader.load(id))),
    );
    expect(statements).toBe(1);
    expect(result.map((view) => view?.displayName ?? null)).toEqual(['A', 'B', null, 'A']);
  });

  it('updates, cleans and invalidates: the next read shows the change', async () => {
    const { store } = harness({ invalidationHoldSeconds: 0.3 });
    const userId = await newUser({ displayName: 'Old name', bio: 'Old bio' });
    expect((await store.loadMany([userId]))[0]?.displayName).toBe('Old name');

    const outcome = await store.update(userId, {
      displayName: '<img src=x onerror=alert(1)>New\u0000 name',
      bio: '<script>document.cookie</script>Hello',
      locale: 'de-de',
      timezone: 'Europe/Berlin',
      phone: '+49 30 1234567',
    });
    expect(outcome).toEqual({
      profile: expect.objectContaining({
        userId,
        displayName: 'New name',
        bio: 'Hello',
        locale: 'de-DE',
        timezone: 'Europe/Berlin',
        phone: '+49301234567',
      }),
    });
    const row = await db.prisma.userProfile.findUniqueOrThrow({ where: { userId } });
    expect(row).toMatchObject({ displayName: 'New name', bio: 'Hello', phone: '+49301234567' });
    if (!('profile' in outcome)) throw new Error('unreachable');
    expect(outcome.profile.updatedAt).toEqual(row.updatedAt);

    const afterUpdate = await profileStatements(() => store.loadMany([userId]));
    expect(afterUpdate.statements).toBe(1);
    expect(afterUpdate.result[0]).toEqual(outcome.profile);

    // While the invalidation holds, reads do not refill the cache; afterwards they do.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await profileStatements(() => store.loadMany([userId]))).statements).toBe(1);
    expect((await profileStatements(() => store.loadMany([userId]))).statements).toBe(0);
  });

  it('creates the profile row on the first update, and only touches the fields given', async () => {
    const { store } = harness();
    const userId = await newUser();
    await store.update(userId, { displayName: 'Neo' });
    await store.update(userId, { bio: 'The One' });
    const cleared = await store.update(userId, { displayName: null });
    expect(cleared).toEqual({ profile: expect.objectContaining({ displayName: null, bio: 'The One' }) });
  });

  it('keeps a read that raced with an update from caching the old profile', async () => {
    const kv = open();
    kvs.push(kv);
    // Holds back the reader's cache fill until the update has committed and invalidated.
    let releaseFill: () => void = () => undefined;
    const fillHeld = new Promise<void>((resolve) => (releaseFill = resolve));
    let fillStarted: () => void = () => undefined;
    const fillReached = new Promise<void>((resolve) => (fillStarted = resolve));
    const racingKv: ProfileStoreOptions['kv'] = {
      get: (key) => kv.get(key),
      delete: (key) => kv.delete(key),
      set: async (key, value, options) => {
        if (options?.onlyIfAbsent) {
          fillStarted();
          await fillHeld;
        }
        return kv.set(key, value, options);
      },
    };
    const { logger } = recordingLogger();
    const store = createProfileStore({
      repository: createProfileViewRepository(db.prisma),
      kv: racingKv,
      storage,
      logger,
      cacheTimeoutMs: 5000,
    });
    const userId = await newUser({ displayName: 'Before' });

    const read = store.loadMany([userId]);
    await fillReached; // the reader has the old row from PostgreSQL and is about to cache it
    await store.update(userId, { displayName: 'After' });
    releaseFill();
    expect((await read)[0]?.displayName).toBe('Before');

    expect((await store.loadMany([userId]))[0]?.displayName).toBe('After');
    expect(await kv.get(profileCacheKey(userId))).not.toContain('Before');
  });

  it('returns field errors without writing anything', async () => {
    const { store } = harness();
    const userId = await newUser({ displayName: 'Kept' });
    const { result, statements } = await profileStatements(() =>
      store.update(userId, { displayName: '<script></script>', timezone: 'Nowhere/Special' }),
    );
    expect(statements).toBe(0);
    expect(result).toEqual({
      fieldErrors: [
        { field: 'displayName', code: ProfileErrorCode.DISPLAY_NAME_INVALID, message: expect.any(String) },
        { field: 'timezone', code: ProfileErrorCode.TIMEZONE_INVALID, message: expect.any(String) },
      ],
    });
    expect((await db.prisma.userProfile.findUniqueOrThrow({ where: { userId } })).displayName).toBe('Kept');
  });

  it('refuses to update a user that does not exist', async () => {
    const { store } = harness();
    expect(await failureOf(store.update(randomUUID(), { displayName: 'Ghost' }))).toEqual({
      code: 'NOT_FOUND',
      reason: ProfileErrorCode.USER_NOT_FOUND,
    });
  });

  it('derives avatar URLs from the stored key, and passes only http(s) external URLs', async () => {
    const { store } = harness();
    const uploaded = await newUser();
    const key = `public/avatars/${uploaded}/${randomUUID()}`;
    await db.prisma.userProfile.create({
      data: { userId: uploaded, avatarKey: key, avatarUrl: 'https://old.example/a.png' },
    });
    const external = await newUser({ avatarUrl: 'https://avatars.example/u/1.png' });
    const hostile = await newUser({ avatarUrl: 'javascript:alert(1)' });

    const [a, b, c] = await store.loadMany([uploaded, external, hostile]);
    expect(a?.avatar).toEqual({
      source: 'upload',
      original: `http://files.test/files/${key}/original.webp`,
      sizes: {
        50: `http://files.test/files/${key}/50.webp`,
        150: `http://files.test/files/${key}/150.webp`,
        300: `http://files.test/files/${key}/300.webp`,
      },
    });
    const url = 'https://avatars.example/u/1.png';
    expect(b?.avatar).toEqual({ source: 'external', original: url, sizes: { 50: url, 150: url, 300: url } });
    expect(c?.avatar).toBeNull();
    // The cache holds the key, not URLs: a second read derives the same URLs.
    expect((await store.loadMany([uploaded]))[0]?.avatar).toEqual(a?.avatar);
  });

  it('ignores cache entries it cannot read', async () => {
    const { store, kv } = harness();
    const userId = await newUser({ displayName: 'Real' });
    await kv.set(profileCacheKey(userId), '{"userId":"someone-else","displayName":"Fake"}');
    expect((await store.loadMany([userId]))[0]?.displayName).toBe('Real');
    await kv.set(profileCacheKey(userId), 'not json');
    expect((await store.loadMany([userId]))[0]?.displayName).toBe('Real');
  });
});

describe('profile store without a working cache', () => {
  const failing: ProfileStoreOptions['kv'] = {
    get: () => Promise.reject(new Error('ECONNREFUSED')),
    set: () => Promise.reject(new Error('ECONNREFUSED')),
    delete: () => Promise.reject(new Error('ECONNREFUSED')),
  };
  const hanging: ProfileStoreOptions['kv'] = {
    get: () => new Promise<never>(() => undefined),
    set: () => new Promise<never>(() => undefined),
    delete: () => new Promise<never>(() => undefined),
  };

  it.each([
    ['failing', failing],
    ['hanging', hanging],
  ])('falls back to PostgreSQL when the cache is %s, and logs it', async (_name, kv) => {
    const { warnings, logger } = recordingLogger();
    const store = createProfileStore({
      repository: createProfileViewRepository(db.prisma),
      kv,
      storage,
      logger,
      cacheTimeoutMs: 50,
    });
    const userId = await newUser({ displayName: 'Still here' });

    const started = Date.now();
    expect((await store.loadMany([userId]))[0]?.displayName).toBe('Still here');
    expect(await store.update(userId, { displayName: 'Updated' })).toEqual({
      profile: expect.objectContaining({ displayName: 'Updated' }),
    });
    await store.invalidate(userId);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(warnings).toEqual(
      expect.arrayContaining([
        'profile cache unavailable; reading profiles from PostgreSQL',
        'profiles not cached',
        'profile cache not invalidated; the old profile may be served until the entry expires',
      ]),
    );
  });
});
