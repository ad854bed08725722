import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import {
  AUDIT_LIMITS,
  auditFieldsFromViewer,
  createAuditWriter,
  sanitizeAuditMetadata,
  type AuditMetadataValue,
} from './audit-writer';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 2 });
});
afterAll(async () => {
  await db?.close();
});

describe('createAuditWriter', () => {
  it('writes every field: actor, impersonator, action, target, IP, user agent, request id, outcome, metadata', async () => {
    const actorUserId = randomUUID();
    const impersonatorUserId = randomUUID();
    await createAuditWriter(db.prisma).record({
      action: 'ROLE_GRANTED',
      outcome: 'SUCCESS',
      actorUserId,
      impersonatorUserId,
      targetType: 'Role',
      targetId: 'role-1',
      ip: '198.51.100.7',
      userAgent: 'curl/8',
      requestId: 'req-role',
      metadata: { role: 'support', grantedTo: 'u-2' },
    });
    const rows = await db.prisma.auditLog.findMany({ where: { targetId: 'role-1' } });
    expect(rows).toEqual([
      {
        id: expect.any(String),
        createdAt: expect.any(Date),
        actorUserId,
        impersonatorUserId,
        action: 'ROLE_GRANTED',
        targetType: 'Role',
        targetId: 'role-1',
        ipAddress: '198.51.100.7',
        userAgent: 'curl/8',
        requestId: 'req-role',
        metadata: { role: 'support', grantedTo: 'u-2', outcome: 'SUCCESS' },
      },
    ]);
  });

  it('stores `at` as the time, and the outcome wins over a metadata outcome', async () => {
    const at = new Date('2031-07-04T12:34:56.789Z');
    await createAuditWriter(db.prisma).record({
      action: 'PLAN_CHANGED',
      outcome: 'FAILURE',
      targetId: 'at-test',
      at,
      metadata: { outcome: 'SUCCESS' },
    });
    const row = await db.prisma.auditLog.findFirstOrThrow({ where: { targetId: 'at-test' } });
    expect(row.createdAt).toEqual(at);
    expect(row.metadata).toEqual({ outcome: 'FAILURE' });
  });

  it('commits and rolls back with the transaction it is given', async () => {
    await db.prisma
      .$transaction(async (tx) => {
        await createAuditWriter(tx).record({
          action: 'ROLLED_BACK',
          outcome: 'SUCCESS',
          targetId: 'tx-test',
        });
        throw new Error('abort');
      })
      .catch(() => undefined);
    await db.prisma.$transaction(async (tx) => {
      await createAuditWriter(tx).record({ action: 'COMMITTED', outcome: 'SUCCESS', targetId: 'tx-test' });
    });
    const rows = await db.prisma.auditLog.findMany({ where: { targetId: 'tx-test' } });
    expect(rows.map((row) => row.action)).toEqual(['COMMITTED']);
  });

  it('truncates attacker-controlled strings to the column limits', async () => {
    await createAuditWriter(db.prisma).record({
      action: 'LOGIN_FAILED',
      outcome: 'FAILURE',
      targetType: 'T'.repeat(500),
      targetId: `long-${'x'.repeat(5000)}`,
      ip: '1'.repeat(500),
      userAgent: 'u'.repeat(10_000),
      requestId: 'r'.repeat(500),
      metadata: { note: 'n'.repeat(10_000), list: Array.from({ length: 500 }, (_, i) => i) },
    });
    const row = await db.prisma.auditLog.findFirstOrThrow({ where: { targetId: { startsWith: 'long-' } } });
    expect(row.targetType).toHaveLength(AUDIT_LIMITS.targetType);
    expect(row.targetId).toHaveLength(AUDIT_LIMITS.targetId);
    expect(row.ipAddress).toHaveLength(AUDIT_LIMITS.ip);
    expect(row.userAgent).toHaveLength(AUDIT_LIMITS.userAgent);
    expect(row.requestId).toHaveLength(AUDIT_LIMITS.requestId);
    const metadata = row.metadata as { note: string; list: number[] };
    expect(metadata.note).toHaveLength(AUDIT_LIMITS.metadataString);
    expect(metadata.note.endsWith('…')).toBe(true);
    expect(metadata.list).toHaveLength(AUDIT_LIMITS.metadataArray);
  });

  it('refuses malformed actions, outcomes and user ids before touching the database', async () => {
    const writer = createAuditWriter(db.prisma);
    const before = await db.prisma.auditLog.count();
    await expect(writer.record({ action: 'loginFailed', outcome: 'FAILURE' })).rejects.toThrow(/UPPER_SNAKE/);
    await expect(writer.record({ action: 'A'.repeat(101), outcome: 'FAILURE' })).rejects.toThrow(
      /UPPER_SNAKE/,
    );
    await expect(
      writer.record({ action: 'LOGIN', outcome: 'MAYBE' as unknown as 'SUCCESS' }),
    ).rejects.toThrow(/outcome/);
    await expect(writer.record({ action: 'LOGIN', outcome: 'SUCCESS', actorUserId: 'nope' })).rejects.toThrow(
      /actorUserId must be a UUID/,
    );
    await expect(
      writer.record({ action: 'LOGIN', outcome: 'SUCCESS', impersonatorUserId: '1' }),
    ).rejects.toThrow(/impersonatorUserId must be a UUID/);
    expect(await db.prisma.auditLog.count()).toBe(before);
  });

  it('has no way to change or remove a row', () => {
    expect(Object.keys(createAuditWriter(db.prisma))).toEqual(['record']);
  });
});

describe('sanitizeAuditMetadata', () => {
  it('drops secret-looking keys and undefined values at any depth, keeps the rest', () => {
    const input = {
      reason: 'WRONG_PASSWORD',
      password: 'hunter2',
      nested: { clientSecret: 's', kept: 1, list: [{ accessToken: 't', ok: true }] },
      tokenExpiresAt: '2031-01-01',
      skipped: undefined,
    } as unknown as AuditMetadataValue;
    expect(sanitizeAuditMetadata(input)).toEqual({
      reason: 'WRONG_PASSWORD',
      nested: { kept: 1, list: [{ ok: true }] },
      tokenExpiresAt: '2031-01-01',
    });
  });

  it('replaces metadata nested deeper than the limit', () => {
    let deep: AuditMetadataValue = 'bottom';
    for (let i = 0; i < 20; i += 1) deep = { level: deep };
    expect(JSON.stringify(sanitizeAuditMetadata(deep))).toContain('[Too deep]');
    expect(JSON.stringify(sanitizeAuditMetadata(deep))).not.toContain('bottom');
  });
});

describe('auditFieldsFromViewer', () => {
  const client = { ip: '192.0.2.1', userAgent: 'UA', requestId: 'req-9' };

  it('takes the actor and impersonator from the viewer and the rest from the client', () => {
    expect(auditFieldsFromViewer({ userId: 'u1', impersonatorUserId: 'admin1' }, client)).toEqual({
      actorUserId: 'u1',
      impersonatorUserId: 'admin1',
      ip: '192.0.2.1',
      userAgent: 'UA',
      requestId: 'req-9',
    });
  });

  it('accepts the impersonator separately and handles anonymous callers without a client', () => {
    expect(auditFieldsFromViewer({ userId: 'u1' }, client, 'admin2').impersonatorUserId).toBe('admin2');
    expect(auditFieldsFromViewer(null)).toEqual({
      actorUserId: null,
      impersonatorUserId: null,
      ip: null,
      userAgent: null,
      requestId: null,
    });
  });
});
