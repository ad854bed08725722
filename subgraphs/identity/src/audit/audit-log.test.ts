import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { AuditAction, sanitizeAuditMetadata } from './audit-log';
import { createAuditLog } from './audit-log.repository';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

describe('audit log', () => {
  it('writes a row with actor, target, IP, user agent, request id and the outcome', async () => {
    const actor = await db.prisma.user.create({ data: { email: 'auditor@example.test' } });
    await createAuditLog(db.prisma).record({
      action: AuditAction.LOGIN_SUCCEEDED,
      outcome: 'SUCCESS',
      actorUserId: actor.id,
      targetType: 'User',
      targetId: actor.id,
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0 (test)',
      requestId: 'req-1',
      metadata: { sessionId: 'abc', method: 'password' },
    });
    const rows = await db.prisma.auditLog.findMany({ where: { actorUserId: actor.id } });
    expect(rows).toEqual([
      {
        id: expect.any(String),
        createdAt: expect.any(Date),
        action: 'LOGIN_SUCCEEDED',
        actorUserId: actor.id,
        impersonatorUserId: null,
        targetType: 'User',
        targetId: actor.id,
        ipAddress: '203.0.113.9',
        userAgent: 'Mozilla/5.0 (test)',
        requestId: 'req-1',
        metadata: { sessionId: 'abc', method: 'password', outcome: 'SUCCESS' },
      },
    ]);
    expect(Math.abs(rows[0]!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('drops secret-looking metadata keys at any depth and never lets metadata override the outcome', async () => {
    await createAuditLog(db.prisma).record({
      action: AuditAction.PASSWORD_CHANGED,
      outcome: 'FAILURE',
      targetType: 'User',
      targetId: 'secret-drop-test',
      metadata: {
        reason: 'PASSWORD_RECENTLY_USED',
        newPassword: 'hunter2hunter2',
        refresh_token: 'rt',
        nested: { clientSecret: 's', kept: 1, list: [{ accessToken: 't', ok: true }] },
        passwordChangedAt: '2026-01-01T00:00:00.000Z',
        outcome: 'SUCCESS',
        skipped: undefined,
      },
    });
    const row = await db.prisma.auditLog.findFirstOrThrow({ where: { targetId: 'secret-drop-test' } });
    expect(row.metadata).toEqual({
      reason: 'PASSWORD_RECENTLY_USED',
      nested: { kept: 1, list: [{ ok: true }] },
      passwordChangedAt: '2026-01-01T00:00:00.000Z',
      outcome: 'FAILURE',
    });
    expect(JSON.stringify(row.metadata)).not.toMatch(/hunter2|"rt"|"s"|"t"/);
  });

  it('lands far-future rows in the default partition', async () => {
    await createAuditLog(db.prisma).record({
      action: AuditAction.LOGIN_FAILED,
      outcome: 'FAILURE',
      targetId: 'future',
      at: new Date('2199-06-01T00:00:00Z'),
    });
    const { rows } = await db.pool.query<{ partition: string }>(
      `SELECT tableoid::regclass::text AS partition FROM audit_logs WHERE target_id = 'future'`,
    );
    expect(rows).toEqual([{ partition: expect.stringMatching(/audit_logs_default$/) }]);
  });

  it('records the impersonating administrator through the shared writer', async () => {
    const [user, admin] = await Promise.all([
      db.prisma.user.create({ data: { email: 'impersonated@example.test' } }),
      db.prisma.user.create({ data: { email: 'impersonator@example.test' } }),
    ]);
    await createAuditLog(db.prisma).record({
      action: AuditAction.SESSION_REVOKED,
      outcome: 'SUCCESS',
      actorUserId: user.id,
      impersonatorUserId: admin.id,
      targetId: 'impersonated-session',
    });
    const row = await db.prisma.auditLog.findFirstOrThrow({ where: { targetId: 'impersonated-session' } });
    expect(row).toMatchObject({ actorUserId: user.id, impersonatorUserId: admin.id });
  });

  it('truncates oversized attacker-controlled strings', async () => {
    await createAuditLog(db.prisma).record({
      action: AuditAction.LOGIN_FAILED,
      outcome: 'FAILURE',
      targetId: 'long-ua',
      userAgent: 'x'.repeat(10_000),
    });
    const row = await db.prisma.auditLog.findFirstOrThrow({ where: { targetId: 'long-ua' } });
    expect(row.userAgent).toHaveLength(512);
  });
});

describe('sanitizeAuditMetadata', () => {
  it('leaves non-secret values alone', () => {
    expect(sanitizeAuditMetadata({ a: [1, 'two', null], tokenExpiresAt: 'x' })).toEqual({
      a: [1, 'two', null],
      tokenExpiresAt: 'x',
    });
  });
});
