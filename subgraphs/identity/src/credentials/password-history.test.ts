import { createPasswordHasher, type PasswordHasher } from '@gatehouse/crypto';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { createPasswordHistory } from './password-history';
import { createPasswordHistoryRepository } from './password-history.repository';

// Real argon2id, with parameters small enough to keep the suite fast.
const fastHasher = createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

/** A user whose current password is `current`, after changing through each of `previous` (oldest first). */
async function userWithPasswords(previous: string[], current: string, keep = 5) {
  const user = await db.prisma.user.create({
    data: { email: `${crypto.randomUUID()}@example.test`, passwordHash: await fastHasher.hash(current) },
  });
  const history = createPasswordHistory({
    repository: createPasswordHistoryRepository(db.prisma),
    hasher: fastHasher,
    last: keep,
  });
  for (const password of previous) await history.remember(user.id, await fastHasher.hash(password));
  return { userId: user.id, history };
}

describe('password history', () => {
  it('refuses the current password and the last five, accepts older and new ones', async () => {
    const { userId, history } = await userWithPasswords(['p1', 'p2', 'p3', 'p4', 'p5', 'p6'], 'current');
    await expect(history.isRecentlyUsed(userId, 'current')).resolves.toBe(true);
    for (const recent of ['p2', 'p3', 'p4', 'p5', 'p6']) {
      await expect(history.isRecentlyUsed(userId, recent)).resolves.toBe(true);
    }
    // p1 was pruned when p6 was remembered.
    await expect(history.isRecentlyUsed(userId, 'p1')).resolves.toBe(false);
    await expect(history.isRecentlyUsed(userId, 'brand new')).resolves.toBe(false);
  });

  it('keeps only the newest N rows', async () => {
    const { userId } = await userWithPasswords(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 'now', 3);
    const rows = await db.prisma.passwordHistory.findMany({ where: { userId } });
    expect(rows).toHaveLength(3);
    const remaining = await Promise.all(
      ['e', 'f', 'g'].map(async (pw) => {
        for (const row of rows) if (await fastHasher.verify(row.passwordHash, pw)) return true;
        return false;
      }),
    );
    expect(remaining).toEqual([true, true, true]);
  });

  it('honours a per-call `last` and runs the verifies one at a time', async () => {
    const { userId } = await userWithPasswords(['x1', 'x2', 'x3'], 'cur');
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const counting: PasswordHasher = {
      ...fastHasher,
      async verify(hash, password) {
        calls += 1;
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await fastHasher.verify(hash, password);
        } finally {
          inFlight -= 1;
        }
      },
    };
    const history = createPasswordHistory({
      repository: createPasswordHistoryRepository(db.prisma),
      hasher: counting,
    });
    await expect(history.isRecentlyUsed(userId, 'x1', { last: 2 })).resolves.toBe(false);
    expect(calls).toBe(3); // current + the 2 newest
    expect(maxInFlight).toBe(1);
  });

  it('is false for an unknown user', async () => {
    const history = createPasswordHistory({
      repository: createPasswordHistoryRepository(db.prisma),
      hasher: fastHasher,
    });
    await expect(history.isRecentlyUsed(crypto.randomUUID(), 'whatever')).resolves.toBe(false);
  });
});
