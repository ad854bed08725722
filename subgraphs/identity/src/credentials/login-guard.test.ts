import { createPasswordHasher, type PasswordHasher } from '@gatehouse/crypto';
import { ErrorCode } from '@gatehouse/errors';
import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  uniqueTestPrefix,
  type TestDatabase,
} from '@gatehouse/testing';
import { AccountLockedError, createLoginGuard, type LoginGuardOptions } from './login-guard';
import { createLoginGuardRepository } from './login-guard.repository';
import { createDummyPasswordCheck, verifyAndUpgrade } from './password-check';

const redisUrl = redisUrlForTests('login-guard');
const prefix = uniqueTestPrefix();

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, prefix);
});

const newUser = async () =>
  (await db.prisma.user.create({ data: { email: `${crypto.randomUUID()}@example.test` } })).id;

interface KvCase {
  name: string;
  create(): KeyValueStore;
  /** Wipes every counter, like a Redis restart without persistence or a FLUSHDB. */
  flush(): Promise<void>;
}

const memoryStores: MemoryKeyValueStore[] = [];
const kvCases: KvCase[] = [
  {
    name: 'in-process KV',
    create: () => {
      const store = new MemoryKeyValueStore();
      memoryStores.push(store);
      return store;
    },
    flush: async () => {
      // A restart of the in-process store: a fresh instance replaces the old one.
      for (const store of memoryStores.splice(0)) await store.close();
    },
  },
];
if (redisUrl) {
  kvCases.push({
    name: 'Redis KV',
    create: () => new RedisKeyValueStore({ redisUrl, prefix }),
    // Only this file's keys: other suites share the server.
    flush: () => deleteRedisKeys(redisUrl, prefix),
  });
}

describe.each(kvCases)('login guard with $name', (kvCase) => {
  let kv: KeyValueStore;
  const guard = (options: Partial<LoginGuardOptions> = {}) =>
    createLoginGuard({ kv, repository: createLoginGuardRepository(db.prisma), ...options });

  beforeEach(() => {
    kv = kvCase.create();
  });
  afterEach(async () => {
    await kv.close();
  });

  it('does not lock after 4 failures; the 5th locks, reported exactly once', async () => {
    const userId = await newUser();
    const subject = guard();
    for (let i = 1; i <= 4; i++) {
      await expect(subject.recordFailure(userId)).resolves.toEqual({ locked: false, failures: i });
    }
    await expect(subject.assertNotLocked(userId)).resolves.toBeUndefined();

    const fifth = await subject.recordFailure(userId);
    expect(fifth).toMatchObject({ locked: true, failures: 5, lockedUntil: expect.any(Date) });
    const stored = await db.prisma.user.findUniqueOrThrow({ where: { id: userId } });
    expect(stored.lockedUntil).toEqual(fifth.lockedUntil);
    expect(stored.lockedUntil!.getTime() - Date.now()).toBeGreaterThan(890_000);

    // Attempts while locked are not counted and never report the lock again (one mail per lock).
    await expect(subject.recordFailure(userId)).resolves.toEqual({
      locked: false,
      failures: 0,
      lockedUntil: fifth.lockedUntil,
    });

    const error = await subject.assertNotLocked(userId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccountLockedError);
    expect(error).toMatchObject({
      code: ErrorCode.UNAUTHENTICATED,
      details: { reason: 'ACCOUNT_LOCKED', lockedUntil: fifth.lockedUntil!.toISOString() },
    });
  });

  it('locks exactly once when the 5th and 6th failures race', async () => {
    const userId = await newUser();
    const subject = guard();
    for (let i = 0; i < 4; i++) await subject.recordFailure(userId);
    const outcomes = await Promise.all([subject.recordFailure(userId), subject.recordFailure(userId)]);
    expect(outcomes.filter((o) => o.locked)).toHaveLength(1);
  });

  it('keeps counting across a KV flush: 3 failures, flush, 2 more -> locked', async () => {
    const userId = await newUser();
    for (let i = 0; i < 3; i++) await guard().recordFailure(userId);
    await kv.close();
    await kvCase.flush();
    kv = kvCase.create();
    expect(await kv.get(`login-failures:${userId}`)).toBeNull();

    const subject = guard();
    await expect(subject.recordFailure(userId)).resolves.toEqual({ locked: false, failures: 4 });
    // The KV counter was re-seeded from Postgres.
    await expect(subject.failureCount(userId)).resolves.toBe(4);
    await expect(subject.recordFailure(userId)).resolves.toMatchObject({ locked: true, failures: 5 });
  });

  it('starts a new count once the window has passed', async () => {
    const userId = await newUser();
    let clock = new Date();
    const subject = guard({ now: () => clock });
    for (let i = 0; i < 4; i++) await subject.recordFailure(userId);

    clock = new Date(clock.getTime() + 901_000);
    // As the KV would by itself once the TTL (= window) ran out.
    await kv.delete(`login-failures:${userId}`);
    await expect(subject.failureCount(userId)).resolves.toBe(0);
    await expect(subject.recordFailure(userId)).resolves.toEqual({ locked: false, failures: 1 });
  });

  it('lets the lock expire and gives a fresh count afterwards', async () => {
    const userId = await newUser();
    let clock = new Date();
    const subject = guard({ now: () => clock, lockSeconds: 60 });
    for (let i = 0; i < 5; i++) await subject.recordFailure(userId);
    await expect(subject.lockedUntil(userId)).resolves.toEqual(new Date(clock.getTime() + 60_000));

    clock = new Date(clock.getTime() + 61_000);
    await expect(subject.assertNotLocked(userId)).resolves.toBeUndefined();
    await expect(subject.recordFailure(userId)).resolves.toEqual({ locked: false, failures: 1 });
  });

  it('resets both counters on success', async () => {
    const userId = await newUser();
    const subject = guard();
    for (let i = 0; i < 4; i++) await subject.recordFailure(userId);
    await subject.recordSuccess(userId);
    expect(await kv.get(`login-failures:${userId}`)).toBeNull();
    const stored = await db.prisma.user.findUniqueOrThrow({ where: { id: userId } });
    expect(stored.failedLoginCount).toBe(0);
    await expect(subject.recordFailure(userId)).resolves.toEqual({ locked: false, failures: 1 });
  });

  // Issue #14: counted before the password is verified, so a burst of parallel guesses cannot outrun the limit.
  it('grants at most maxFailures of concurrent password attempts; the last wrong one locks, once', async () => {
    const userId = await newUser();
    const subject = guard();
    const attempts = await Promise.all(
      Array.from({ length: 12 }, () => subject.reservePasswordAttempt(userId)),
    );
    const granted = attempts.filter((attempt) => attempt !== null);
    expect(granted.map((attempt) => attempt.failures).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    const outcomes = await Promise.all(granted.map((attempt) => subject.recordFailure(userId, attempt)));
    expect(outcomes.filter((outcome) => outcome.locked)).toHaveLength(1);
    await expect(subject.reservePasswordAttempt(userId)).resolves.toBeNull();
    // A reserved attempt whose password was right is cleared by the success.
    const other = await newUser();
    await subject.reservePasswordAttempt(other);
    await subject.recordSuccess(other);
    await expect(subject.failureCount(other)).resolves.toBe(0);
  });

  it('honours maxFailures', async () => {
    const userId = await newUser();
    const subject = guard({ maxFailures: 2 });
    await expect(subject.recordFailure(userId)).resolves.toMatchObject({ locked: false });
    await expect(subject.recordFailure(userId)).resolves.toMatchObject({ locked: true });
  });
});

// Issue #14: second-factor attempts have a count of their own, in Postgres, counted before the code is checked.
describe('second-factor attempts', () => {
  const kv = new MemoryKeyValueStore();
  afterAll(() => kv.close());
  const clock = { now: new Date('2031-05-01T08:00:00.000Z') };
  const guard = () =>
    createLoginGuard({ kv, repository: createLoginGuardRepository(db.prisma), now: () => clock.now });
  const row = (id: string) => db.prisma.user.findUniqueOrThrow({ where: { id } });

  it('lets at most maxFailures of many concurrent attempts through, then the last wrong one locks, once', async () => {
    const userId = await newUser();
    const subject = guard();
    const attempts = await Promise.all(
      Array.from({ length: 12 }, () => subject.reserveSecondFactorAttempt(userId)),
    );
    const granted = attempts.filter((attempt) => attempt !== null);
    expect(granted.map((attempt) => attempt.attempts).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    const outcomes = await Promise.all(granted.map((attempt) => subject.recordSecondFactorFailure(attempt)));
    expect(outcomes.filter((outcome) => outcome.locked)).toHaveLength(1);
    expect(await subject.lockedUntil(userId)).toEqual(new Date(clock.now.getTime() + 900_000));
    // While locked nothing is granted; the lock cleared both counts.
    await expect(subject.reserveSecondFactorAttempt(userId)).resolves.toBeNull();
    expect(await row(userId)).toMatchObject({ mfaFailedCount: 0, failedLoginCount: 0 });
  });

  it('is not cleared by a correct password, only by a passed second factor', async () => {
    const userId = await newUser();
    const subject = guard();
    for (let i = 0; i < 3; i++) {
      await subject.recordSecondFactorFailure((await subject.reserveSecondFactorAttempt(userId))!);
    }
    await subject.recordSuccess(userId); // a correct password
    expect((await row(userId)).mfaFailedCount).toBe(3);
    await expect(subject.reserveSecondFactorAttempt(userId)).resolves.toMatchObject({
      attempts: 4,
      remaining: 1,
    });
    await subject.recordSecondFactorSuccess(userId);
    expect((await row(userId)).mfaFailedCount).toBe(0);
  });

  it('starts again once the window has passed since the last attempt', async () => {
    const userId = await newUser();
    const subject = guard();
    for (let i = 0; i < 4; i++) await subject.reserveSecondFactorAttempt(userId);
    clock.now = new Date(clock.now.getTime() + 901_000);
    await expect(subject.reserveSecondFactorAttempt(userId)).resolves.toMatchObject({ attempts: 1 });
  });
});

describe('login guard when the KV is down', () => {
  it('still counts and locks on Postgres alone', async () => {
    const userId = await newUser();
    const broken = new MemoryKeyValueStore();
    await broken.close(); // every call now rejects
    const warnings: string[] = [];
    const subject = createLoginGuard({
      kv: broken,
      repository: createLoginGuardRepository(db.prisma),
      logger: { warn: (_details, message) => warnings.push(message) },
    });
    for (let i = 0; i < 4; i++) await subject.recordFailure(userId);
    await expect(subject.recordFailure(userId)).resolves.toMatchObject({ locked: true });
    expect(warnings.length).toBeGreaterThan(0);
  });
});

describe('password checks at sign-in', () => {
  const real = createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
  function counting(hasher: PasswordHasher) {
    const calls = { hash: 0, verify: 0 };
    const wrapped: PasswordHasher = {
      hash: (password) => (calls.hash++, hasher.hash(password)),
      verify: (hash, password) => (calls.verify++, hasher.verify(hash, password)),
      needsRehash: (hash) => hasher.needsRehash(hash),
    };
    return { wrapped, calls };
  }

  it('runs one real verify for an unknown e-mail or a password-less account, against a current-parameter hash', async () => {
    const { wrapped, calls } = counting(real);
    const dummy = createDummyPasswordCheck(wrapped);
    await dummy.ready();
    expect(calls).toEqual({ hash: 1, verify: 0 });

    await expect(verifyAndUpgrade(wrapped, null, 'guess', dummy)).resolves.toEqual({ ok: false });
    await expect(verifyAndUpgrade(wrapped, { passwordHash: null }, 'guess', dummy)).resolves.toEqual({
      ok: false,
    });
    // One verify each, and the dummy hash was made once.
    expect(calls).toEqual({ hash: 1, verify: 2 });
  });

  it('hashes the dummy with the hasher it was given (current parameters)', async () => {
    const seen: string[] = [];
    const dummy = createDummyPasswordCheck({
      ...real,
      verify: async (hash, password) => (seen.push(hash), real.verify(hash, password)),
    });
    await dummy.equalizeTiming('anything');
    expect(seen).toHaveLength(1);
    expect(real.needsRehash(seen[0]!)).toBe(false);
  });

  it('verifies a known user and re-hashes only when the parameters changed', async () => {
    const old = createPasswordHasher({ memoryCost: 2048, timeCost: 1, parallelism: 1 });
    const dummy = createDummyPasswordCheck(real);
    const current = await real.hash('s3cret phrase');
    const outdated = await old.hash('s3cret phrase');

    await expect(verifyAndUpgrade(real, { passwordHash: current }, 'wrong', dummy)).resolves.toEqual({
      ok: false,
    });
    await expect(verifyAndUpgrade(real, { passwordHash: current }, 's3cret phrase', dummy)).resolves.toEqual({
      ok: true,
    });
    const upgraded = await verifyAndUpgrade(real, { passwordHash: outdated }, 's3cret phrase', dummy);
    expect(upgraded).toEqual({
      ok: true,
      newHash: expect.stringMatching(/^\$argon2id\$v=19\$m=1024,p=1,t=1\$/),
    });
    await expect(real.verify((upgraded as { newHash: string }).newHash, 's3cret phrase')).resolves.toBe(true);
  });
});
