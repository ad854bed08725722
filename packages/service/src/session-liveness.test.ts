import { createKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createTestDatabase, recordSqlStatements, type TestDatabase } from '@gatehouse/testing';
import {
  createSessionActivityRecorder,
  createSessionLivenessQuery,
  sessionActivityKey,
} from './session-liveness';

let db: TestDatabase;
let kv: KeyValueStore;
let userId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  kv = createKeyValueStore({});
  userId = (await db.prisma.user.create({ data: { email: 'activity@example.test' } })).id;
});

afterAll(async () => {
  await kv.close();
  await db.close();
});

async function sessionUsedAt(lastActivityAt: Date, revoked = false): Promise<string> {
  const row = await db.prisma.session.create({
    data: {
      userId,
      refreshTokenHash: `hash-${Math.random()}`,
      lastActivityAt,
      expiresAt: new Date(Date.now() + 86_400_000),
      ...(revoked ? { revokedAt: new Date(), revokeReason: 'LOGOUT' as const } : {}),
    },
  });
  return row.familyId;
}

const lastActivity = async (familyId: string) =>
  (await db.prisma.session.findFirstOrThrow({ where: { familyId } })).lastActivityAt;

describe('createSessionActivityRecorder', () => {
  it('writes last_activity_at once per throttle window, however often the session is used', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    const sessionId = await sessionUsedAt(hourAgo);
    const record = createSessionActivityRecorder(db.prisma, kv, { throttleSeconds: 60 });
    const sql = recordSqlStatements(db.pool);
    try {
      for (let i = 0; i < 5; i += 1) await record(sessionId);
      expect(sql.count('sessions')).toBe(1);
    } finally {
      sql.restore();
    }
    expect((await lastActivity(sessionId)).getTime()).toBeGreaterThan(hourAgo.getTime());
  });

  it('asks the store once per window per process, and again once the window is over', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    const sessionId = await sessionUsedAt(hourAgo);
    let clock = Date.now();
    const asked: string[] = [];
    // Our own store, counting the throttle's set-if-absent calls.
    const counting: KeyValueStore = {
      ...kv,
      set: (key, value, options) => {
        asked.push(key);
        return kv.set(key, value, options);
      },
    };
    const record = createSessionActivityRecorder(db.prisma, counting, {
      throttleSeconds: 60,
      now: () => new Date(clock),
    });
    for (let i = 0; i < 5; i += 1) await record(sessionId);
    expect(asked).toHaveLength(1);
    const firstWrite = await lastActivity(sessionId);
    expect(firstWrite.getTime()).toBeGreaterThan(hourAgo.getTime());

    clock += 61_000;
    await kv.delete(sessionActivityKey(sessionId)); // the store's entry has expired by now too
    await record(sessionId);
    expect(asked).toHaveLength(2);
    expect((await lastActivity(sessionId)).getTime()).toBeGreaterThan(firstWrite.getTime());
  });

  it('leaves revoked sessions alone, so using a dead token cannot revive its session', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    const sessionId = await sessionUsedAt(hourAgo, true);
    await createSessionActivityRecorder(db.prisma, kv)(sessionId);
    expect(await lastActivity(sessionId)).toEqual(hourAgo);
    expect(await createSessionLivenessQuery(db.prisma)(sessionId)).toBe(false);
  });

  it('reports a failure instead of throwing, and ignores ids that are not UUIDs', async () => {
    const errors: unknown[] = [];
    const closed = createKeyValueStore({});
    await closed.close();
    const broken = { ...closed, set: () => Promise.reject(new Error('store down')) } as KeyValueStore;
    const sessionId = await sessionUsedAt(new Date());
    await expect(
      createSessionActivityRecorder(db.prisma, broken, { onError: (e) => errors.push(e) })(sessionId),
    ).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    await expect(createSessionActivityRecorder(db.prisma, kv)('not-a-uuid')).resolves.toBeUndefined();
  });
});
