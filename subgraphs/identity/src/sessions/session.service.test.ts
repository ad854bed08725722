import { randomUUID } from 'node:crypto';
import { AppError } from '@gatehouse/errors';
import { MemoryEventBus } from '@gatehouse/events';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createSessionStatusChecker } from '@gatehouse/service';
import {
  createTestDatabase,
  deleteRedisKeys,
  recordSqlStatements,
  redisUrlForTests,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
} from '@gatehouse/testing';
import { SessionErrorCode } from './error-codes';
import type { GeoLocator } from './geo';
import { createSessionRepository } from './session.repository';
import {
  SESSION_LIMIT_REVOKE_REASON,
  SessionEventTopic,
  createSessionService,
  type RefreshTokenReusedEvent,
  type SessionServiceOptions,
} from './session.service';

const DAY_MS = 24 * 60 * 60 * 1000;
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
const WINDOWS_CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

/** Our own GeoLocator interface with fixed answers, so these tests do not load the 130 MB databases. */
const geo: GeoLocator = {
  lookup: (ip) =>
    ip === '203.0.113.9'
      ? { country: 'DE', city: 'Berlin' }
      : ip === '198.51.100.7'
        ? { country: 'FR', city: 'Paris' }
        : null,
};

let db: TestDatabase;
const redisUrl = redisUrlForTests('@gatehouse/subgraph-identity sessions');
const redisPrefix = uniqueTestPrefix();

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

async function newUser(): Promise<string> {
  const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
  return user.id;
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; reason: unknown }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return { code: error.code, reason: (error.details as { reason?: unknown } | undefined)?.reason };
}

interface Harness {
  service: ReturnType<typeof createSessionService>;
  kv: KeyValueStore;
  bus: MemoryEventBus;
  clock: { now: Date };
  advance(ms: number): void;
}

type Store = { name: string; open(): KeyValueStore; flush?: () => Promise<void> };

const stores: Store[] = [{ name: 'in-process store', open: () => new MemoryKeyValueStore() }];
if (redisUrl) {
  let n = 0;
  stores.push({
    name: 'Redis',
    open: () => createKeyValueStore({ redisUrl, prefix: `${redisPrefix}:${n++}` }),
  });
}

describe.each(stores)('session service with the $name', ({ open }) => {
  const harnesses: Harness[] = [];

  function harness(options: Partial<SessionServiceOptions> = {}): Harness {
    const kv = open();
    const bus = new MemoryEventBus();
    const clock = { now: new Date('2031-03-01T12:00:00.000Z') };
    const service = createSessionService({
      repository: createSessionRepository(db.prisma),
      kv,
      events: bus,
      geo,
      now: () => clock.now,
      ...options,
    });
    const h = {
      service,
      kv,
      bus,
      clock,
      advance: (ms: number) => (clock.now = new Date(clock.now.getTime() + ms)),
    };
    harnesses.push(h);
    return h;
  }

  afterAll(async () => {
    await Promise.all(harnesses.flatMap((h) => [h.kv.close(), h.bus.close()]));
  });

  it('creates a session and rotates its refresh token along a chain', async () => {
    const { service, advance } = harness();
    const userId = await newUser();
    const created = await service.createSession({ userId, userAgent: IPHONE, ip: '203.0.113.9' });
    expect(created.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.expiresAt.toISOString()).toBe('2031-03-31T12:00:00.000Z');

    const row = await db.prisma.session.findFirstOrThrow({ where: { familyId: created.sessionId } });
    expect(row.refreshTokenHash).not.toContain(created.refreshToken);
    expect(row).toMatchObject({ deviceType: 'mobile', deviceName: 'iPhone', os: 'iOS 17.1', country: 'DE' });

    advance(60_000);
    const second = await service.rotateRefreshToken(created.refreshToken, {
      userAgent: IPHONE,
      ip: '198.51.100.7',
    });
    expect(second).toMatchObject({ sessionId: created.sessionId, userId });
    expect(second.refreshToken).not.toBe(created.refreshToken);
    advance(60_000);
    const third = await service.rotateRefreshToken(second.refreshToken, {});
    expect(third.sessionId).toBe(created.sessionId);

    const family = await db.prisma.session.findMany({
      where: { familyId: created.sessionId },
      orderBy: { createdAt: 'asc' },
    });
    expect(family.map((s) => s.revokeReason)).toEqual(['ROTATED', 'ROTATED', null]);
    // The refreshing client's network is recorded; without a user agent or IP the previous ones are kept.
    expect(family[2]).toMatchObject({
      ipAddress: '198.51.100.7',
      country: 'FR',
      city: 'Paris',
      deviceName: 'iPhone',
    });
    expect(await service.isSessionActive(created.sessionId)).toBe(true);
  });

  it('refuses unknown and malformed refresh tokens', async () => {
    const { service } = harness();
    expect(await failure(service.rotateRefreshToken('x'.repeat(43)))).toEqual({
      code: 'UNAUTHENTICATED',
      reason: SessionErrorCode.INVALID_REFRESH_TOKEN,
    });
    expect((await failure(service.rotateRefreshToken('short'))).reason).toBe(
      SessionErrorCode.INVALID_REFRESH_TOKEN,
    );
    expect((await failure(service.rotateRefreshToken("'; DROP TABLE sessions; --"))).reason).toBe(
      SessionErrorCode.INVALID_REFRESH_TOKEN,
    );
  });

  it('treats a used refresh token as theft: revokes the family and publishes a security event', async () => {
    const { service, bus, clock } = harness();
    const events: RefreshTokenReusedEvent[] = [];
    await bus.subscribe<RefreshTokenReusedEvent>(SessionEventTopic.REFRESH_TOKEN_REUSED, (e) => {
      events.push(e);
    });
    const userId = await newUser();
    const first = await service.createSession({ userId, userAgent: IPHONE, ip: '203.0.113.9' });
    const second = await service.rotateRefreshToken(first.refreshToken);

    expect(await failure(service.rotateRefreshToken(first.refreshToken, { ip: '198.51.100.7' }))).toEqual({
      code: 'UNAUTHENTICATED',
      reason: SessionErrorCode.REFRESH_TOKEN_REUSED,
    });
    await waitFor(() => events.length > 0, { what: 'the reuse event' });
    expect(events).toEqual([
      {
        userId,
        sessionId: first.sessionId,
        ip: '198.51.100.7',
        userAgent: null,
        at: clock.now.toISOString(),
      },
    ]);
    // The legitimate holder's newer token is gone too, and so is the session.
    expect((await failure(service.rotateRefreshToken(second.refreshToken))).reason).toBe(
      SessionErrorCode.SESSION_REVOKED,
    );
    expect(await service.isSessionActive(first.sessionId)).toBe(false);
    const reasons = await db.prisma.session.findMany({
      where: { familyId: first.sessionId },
      select: { revokeReason: true },
    });
    expect(reasons.map((r) => r.revokeReason).sort()).toEqual(['REFRESH_TOKEN_REUSE', 'ROTATED']);
  });

  it('lets exactly one of two concurrent rotations win and treats the other as reuse', async () => {
    const { service } = harness();
    const userId = await newUser();
    const { refreshToken, sessionId } = await service.createSession({ userId, userAgent: IPHONE });
    const results = await Promise.allSettled([
      service.rotateRefreshToken(refreshToken),
      service.rotateRefreshToken(refreshToken),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0]?.reason as AppError).details).toEqual({ reason: SessionErrorCode.REFRESH_TOKEN_REUSED });
    expect(await service.isSessionActive(sessionId)).toBe(false);
    expect(await db.prisma.session.count({ where: { familyId: sessionId, revokedAt: null } })).toBe(0);
  });

  it('expires a session idle for longer than the idle timeout, and touch keeps one alive', async () => {
    const { service, advance } = harness({ refreshTokenTtlSeconds: 90 * 24 * 3600 });
    const userId = await newUser();
    const idle = await service.createSession({ userId, userAgent: IPHONE });
    const used = await service.createSession({ userId, userAgent: WINDOWS_CHROME });
    advance(20 * DAY_MS);
    await service.touch(used.sessionId);
    advance(11 * DAY_MS);

    expect(await failure(service.rotateRefreshToken(idle.refreshToken))).toEqual({
      code: 'UNAUTHENTICATED',
      reason: SessionErrorCode.SESSION_EXPIRED,
    });
    expect(await service.isSessionActive(idle.sessionId)).toBe(false);
    expect(await service.rotateRefreshToken(used.refreshToken)).toMatchObject({ sessionId: used.sessionId });
    expect((await service.listSessions(userId)).map((s) => s.sessionId)).toEqual([used.sessionId]);
  });

  it('expires a refresh token at its expiry', async () => {
    const { service, advance } = harness({ refreshTokenTtlSeconds: 3600 });
    const userId = await newUser();
    const { refreshToken } = await service.createSession({ userId });
    advance(3601_000);
    expect((await failure(service.rotateRefreshToken(refreshToken))).reason).toBe(
      SessionErrorCode.SESSION_EXPIRED,
    );
  });

  it('revokes the least recently active sessions beyond the limit', async () => {
    const { service, advance } = harness({ maxSessionsPerUser: 3 });
    const userId = await newUser();
    const sessions = [];
    for (let i = 0; i < 3; i++) {
      sessions.push(await service.createSession({ userId, userAgent: IPHONE }));
      advance(60_000);
    }
    // The first session is the oldest sign-in but was used most recently, so the second one goes.
    await service.touch(sessions[0]!.sessionId);
    advance(60_000);
    const fourth = await service.createSession({ userId, userAgent: WINDOWS_CHROME });

    const live = (await service.listSessions(userId)).map((s) => s.sessionId);
    expect(live).toEqual([fourth.sessionId, sessions[0]!.sessionId, sessions[2]!.sessionId]);
    expect(await service.isSessionActive(sessions[1]!.sessionId)).toBe(false);
    const evicted = await db.prisma.session.findFirstOrThrow({ where: { familyId: sessions[1]!.sessionId } });
    expect(evicted.revokeReason).toBe(SESSION_LIMIT_REVOKE_REASON);
    expect((await failure(service.rotateRefreshToken(sessions[1]!.refreshToken))).reason).toBe(
      SessionErrorCode.SESSION_REVOKED,
    );
  });

  it('tells a first sign-in, a known device and a new device or country apart', async () => {
    const { service, advance } = harness({ knownDeviceWindowSeconds: 90 * 24 * 60 * 60 });
    const userId = await newUser();
    const novelty = async (userAgent: string, ip: string) =>
      (await service.createSession({ userId, userAgent, ip })).device.novelty;

    const first = await service.createSession({ userId, userAgent: IPHONE, ip: '203.0.113.9' });
    expect(first.device).toEqual({
      novelty: 'FIRST_SIGN_IN',
      description: 'Safari 17 on iOS 17.1 (iPhone)',
      location: 'Berlin, DE',
      ip: '203.0.113.9',
    });
    // Signed out: the phone is still a device this user has used.
    await service.revokeSession(userId, first.sessionId, 'LOGOUT');
    const updatedPhone = IPHONE.replace('iPhone OS 17_1', 'iPhone OS 18_0').replace(
      'Version/17.1',
      'Version/18.0',
    );
    expect(await novelty(updatedPhone, '203.0.113.9')).toBe('KNOWN_DEVICE');
    // An address without a location does not make a known device new.
    expect(await novelty(IPHONE, '192.0.2.1')).toBe('KNOWN_DEVICE');
    expect(await novelty(IPHONE, '198.51.100.7')).toBe('NEW_DEVICE');
    expect(
      (await service.createSession({ userId, userAgent: WINDOWS_CHROME, ip: '203.0.113.9' })).device,
    ).toEqual({
      novelty: 'NEW_DEVICE',
      description: 'Chrome 120 on Windows 10 (Windows PC)',
      location: 'Berlin, DE',
      ip: '203.0.113.9',
    });
    expect(await novelty(WINDOWS_CHROME, '203.0.113.9')).toBe('KNOWN_DEVICE');

    // Unused for longer than the window, a device is new again, though the account has signed in before.
    advance(91 * DAY_MS);
    expect(await novelty(WINDOWS_CHROME, '203.0.113.9')).toBe('NEW_DEVICE');
    expect(await novelty(WINDOWS_CHROME, '203.0.113.9')).toBe('KNOWN_DEVICE');

    // Another user's devices are not this user's.
    const stranger = await newUser();
    const theirs = await service.createSession({
      userId: stranger,
      userAgent: WINDOWS_CHROME,
      ip: '203.0.113.9',
    });
    expect(theirs.device.novelty).toBe('FIRST_SIGN_IN');
  });

  it('holds the limit under concurrent sign-ins, and takes a per-user (per-plan) limit function', async () => {
    const userId = await newUser();
    const { service } = harness({ maxSessionsPerUser: async (id) => (id === userId ? 2 : 10) });
    await Promise.all(Array.from({ length: 5 }, () => service.createSession({ userId })));
    expect(await service.listSessions(userId)).toHaveLength(2);
  });

  it('lists live sessions newest activity first, marks the current one, and keeps the sign-in time', async () => {
    const { service, advance, clock } = harness();
    const userId = await newUser();
    const signedIn = clock.now;
    const phone = await service.createSession({ userId, userAgent: IPHONE, ip: '203.0.113.9' });
    advance(60_000);
    const pc = await service.createSession({ userId, userAgent: WINDOWS_CHROME, ip: '10.1.2.3' });
    advance(60_000);
    const rotated = await service.rotateRefreshToken(phone.refreshToken, { userAgent: IPHONE });
    const otherUser = await newUser();
    await service.createSession({ userId: otherUser });

    const list = await service.listSessions(userId, pc.sessionId);
    expect(list).toEqual([
      {
        sessionId: rotated.sessionId,
        userId,
        current: false,
        deviceType: 'mobile',
        deviceName: 'iPhone',
        os: 'iOS 17.1',
        browser: 'Safari 17',
        ipAddress: '203.0.113.9',
        country: 'DE',
        city: 'Berlin',
        signedInAt: signedIn,
        lastActivityAt: clock.now,
        expiresAt: rotated.expiresAt,
      },
      expect.objectContaining({
        sessionId: pc.sessionId,
        current: true,
        deviceName: 'Windows PC',
        ipAddress: '10.1.2.3',
        country: null,
        city: null,
      }),
    ]);
  });

  it('revokes one session of the owner only, without revealing other users sessions', async () => {
    const { service } = harness();
    const owner = await newUser();
    const stranger = await newUser();
    const mine = await service.createSession({ userId: owner });
    const theirs = await service.createSession({ userId: stranger });

    const notFound = { code: 'NOT_FOUND', reason: SessionErrorCode.SESSION_NOT_FOUND };
    expect(await failure(service.revokeSession(owner, theirs.sessionId))).toEqual(notFound);
    expect(await failure(service.revokeSession(owner, randomUUID()))).toEqual(notFound);
    expect(await failure(service.revokeSession(owner, 'not-a-uuid'))).toEqual(notFound);
    expect(await service.isSessionActive(theirs.sessionId)).toBe(true);

    await service.revokeSession(owner, mine.sessionId);
    expect(await service.isSessionActive(mine.sessionId)).toBe(false);
    expect(await failure(service.revokeSession(owner, mine.sessionId))).toEqual(notFound);
    const row = await db.prisma.session.findFirstOrThrow({ where: { familyId: mine.sessionId } });
    expect(row.revokeReason).toBe('USER_REVOKED');
  });

  it('revokes all other sessions and returns the count; revokeAllSessions ends every one', async () => {
    const { service } = harness();
    const userId = await newUser();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => service.createSession({ userId })));
    await service.rotateRefreshToken(b!.refreshToken);

    expect(await service.revokeOtherSessions(userId, a!.sessionId)).toBe(2);
    expect((await service.listSessions(userId, a!.sessionId)).map((s) => [s.sessionId, s.current])).toEqual([
      [a!.sessionId, true],
    ]);
    expect(await service.isSessionActive(c!.sessionId)).toBe(false);
    expect(await service.revokeOtherSessions(userId, a!.sessionId)).toBe(0);

    expect(await service.revokeAllSessions(userId, 'PASSWORD_RESET')).toBe(1);
    expect(await service.listSessions(userId)).toEqual([]);
  });

  it('signs out with a refresh token', async () => {
    const { service } = harness();
    const userId = await newUser();
    const { refreshToken, sessionId } = await service.createSession({ userId });
    expect(await service.revokeByRefreshToken(refreshToken)).toEqual({ sessionId, userId });
    expect(await service.revokeByRefreshToken(refreshToken)).toBeNull();
    expect(await service.revokeByRefreshToken('x'.repeat(43))).toBeNull();
    expect((await failure(service.rotateRefreshToken(refreshToken))).reason).toBe(
      SessionErrorCode.SESSION_REVOKED,
    );
  });

  it('announces each session started and ended on the bus, once, without any token (issue #8)', async () => {
    const { service, bus } = harness();
    const userId = await newUser();
    const seen: { topic: string; event: Record<string, unknown> }[] = [];
    for (const topic of [SessionEventTopic.SESSION_CREATED, SessionEventTopic.SESSION_REVOKED]) {
      await bus.subscribe<Record<string, unknown>>(topic, (event) => {
        seen.push({ topic, event });
      });
    }
    const first = await service.createSession({ userId, userAgent: IPHONE });
    const second = await service.createSession({ userId });
    await service.revokeSession(userId, first.sessionId);
    await failure(service.revokeSession(userId, first.sessionId));
    await service.revokeByRefreshToken(second.refreshToken);
    await waitFor(() => seen.length === 4, { what: 'four session events' });

    expect(seen.map(({ topic, event }) => [topic, event.sessionId, event.reason ?? null])).toEqual([
      [SessionEventTopic.SESSION_CREATED, first.sessionId, null],
      [SessionEventTopic.SESSION_CREATED, second.sessionId, null],
      [SessionEventTopic.SESSION_REVOKED, first.sessionId, 'USER_REVOKED'],
      [SessionEventTopic.SESSION_REVOKED, second.sessionId, 'LOGOUT'],
    ]);
    expect(seen.every(({ event }) => event.userId === userId && typeof event.id === 'string')).toBe(true);
    expect(JSON.stringify(seen)).not.toContain(first.refreshToken);
    expect(JSON.stringify(seen)).not.toContain(second.refreshToken);
  });

  it('stops a revoked session at the status checker at once, even while a positive answer is cached', async () => {
    const { service, kv } = harness();
    const check = createSessionStatusChecker({
      kv,
      isSessionActive: service.isSessionActive,
      cacheSeconds: 300,
    });
    const userId = await newUser();
    const { sessionId } = await service.createSession({ userId });
    const viewer = { userId, roles: [], sessionId };
    expect(await check(viewer)).toBe(true);
    expect(await check(viewer)).toBe(true);
    await service.revokeSession(userId, sessionId);
    expect(await check(viewer)).toBe(false);
  });

  it('writes last activity at most once per throttle window', async () => {
    const { service, advance } = harness({ activityThrottleSeconds: 0.3 });
    const userId = await newUser();
    const { sessionId } = await service.createSession({ userId });
    const sql = recordSqlStatements(db.pool);
    try {
      for (let i = 0; i < 5; i++) {
        advance(1000);
        await service.touch(sessionId);
      }
      expect(sql.count('sessions')).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 350));
      advance(1000);
      await service.touch(sessionId);
      expect(sql.count('sessions')).toBe(2);
    } finally {
      sql.restore();
    }
    const [session] = await service.listSessions(userId);
    expect(session?.lastActivityAt.toISOString()).toBe('2031-03-01T12:00:06.000Z');
    await service.touch('not-a-uuid');
  });
});

// Redis is a cache: after a restart or FLUSHALL, nobody is signed out and no revoked token works again.
if (redisUrl) {
  describe('after a Redis flush', () => {
    const prefix = `${redisPrefix}:flush`;
    const flush = () => deleteRedisKeys(redisUrl, prefix);
    let kv: KeyValueStore;
    let bus: MemoryEventBus;
    let service: ReturnType<typeof createSessionService>;

    beforeAll(() => {
      kv = createKeyValueStore({ redisUrl, prefix });
      bus = new MemoryEventBus();
      service = createSessionService({ repository: createSessionRepository(db.prisma), kv, events: bus });
    });

    afterAll(async () => {
      await kv.close();
      await bus.close();
    });

    it('still rotates a valid refresh token', async () => {
      const userId = await newUser();
      const first = await service.createSession({ userId, userAgent: IPHONE });
      const second = await service.rotateRefreshToken(first.refreshToken);
      await flush();
      expect(await service.rotateRefreshToken(second.refreshToken)).toMatchObject({
        sessionId: first.sessionId,
      });
    });

    it('still detects a reused refresh token', async () => {
      const userId = await newUser();
      const events: RefreshTokenReusedEvent[] = [];
      await bus.subscribe<RefreshTokenReusedEvent>(SessionEventTopic.REFRESH_TOKEN_REUSED, (e) => {
        events.push(e);
      });
      const first = await service.createSession({ userId });
      const second = await service.rotateRefreshToken(first.refreshToken);
      await flush();
      expect((await failure(service.rotateRefreshToken(first.refreshToken))).reason).toBe(
        SessionErrorCode.REFRESH_TOKEN_REUSED,
      );
      await waitFor(() => events.length > 0, { what: 'the reuse event' });
      expect(events.map((e) => e.sessionId)).toEqual([first.sessionId]);
      expect((await failure(service.rotateRefreshToken(second.refreshToken))).reason).toBe(
        SessionErrorCode.SESSION_REVOKED,
      );
    });

    it('keeps refusing a revoked session at the status checker, and keeps live ones signed in', async () => {
      const check = createSessionStatusChecker({ kv, isSessionActive: service.isSessionActive });
      const userId = await newUser();
      const [revoked, live] = await Promise.all([
        service.createSession({ userId }),
        service.createSession({ userId }),
      ]);
      await service.revokeSession(userId, revoked!.sessionId);
      await flush();
      expect(await check({ userId, roles: [], sessionId: revoked!.sessionId })).toBe(false);
      expect(await check({ userId, roles: [], sessionId: live!.sessionId })).toBe(true);
      // Sign-out with a refresh token falls back to Postgres when its cache entry is gone.
      expect(await service.revokeByRefreshToken(live!.refreshToken)).toEqual({
        sessionId: live!.sessionId,
        userId,
      });
      expect(await check({ userId, roles: [], sessionId: live!.sessionId })).toBe(false);
    });
  });
}
