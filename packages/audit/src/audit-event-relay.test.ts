import { randomUUID } from 'node:crypto';
import { createTestDatabase, waitFor, type TestDatabase } from '@gatehouse/testing';
import {
  AUDIT_EVENTS_TOPIC,
  startAuditEventRelay,
  type AuditEventNotice,
  type AuditEventRelay,
} from './audit-event-relay';
import { createAuditWriter } from './audit-writer';

const quietLogger = { warn: () => undefined, error: () => undefined };

let db: TestDatabase;
let other: TestDatabase;
let relay: AuditEventRelay;
const received: { topic: string; notice: AuditEventNotice }[] = [];

beforeAll(async () => {
  [db, other] = await Promise.all([createTestDatabase({ poolMax: 2 }), createTestDatabase({ poolMax: 2 })]);
  relay = startAuditEventRelay({
    connection: db.pool.options,
    publish: async (topic, notice) => void received.push({ topic, notice }),
    logger: quietLogger,
  });
  await relay.ready;
});

afterAll(async () => {
  await relay?.close();
  await Promise.all([db?.close(), other?.close()]);
});

const noticesFor = (targetId: string) => received.filter(({ notice }) => notice.targetId === targetId);

describe('startAuditEventRelay', () => {
  it('publishes a committed audit row on the bus, identifiers and action only', async () => {
    const targetId = randomUUID();
    const actorUserId = randomUUID();
    const impersonatorUserId = randomUUID();
    await createAuditWriter(db.prisma).record({
      action: 'ROLE_GRANTED',
      outcome: 'FAILURE',
      actorUserId,
      impersonatorUserId,
      targetType: 'Role',
      targetId,
      ip: '198.51.100.7',
      metadata: { secretish: 'not relayed' },
    });

    await waitFor(() => noticesFor(targetId).length === 1);
    const [{ topic, notice }] = noticesFor(targetId) as [{ topic: string; notice: AuditEventNotice }];
    expect(topic).toBe(AUDIT_EVENTS_TOPIC);
    expect(notice).toEqual({
      id: expect.any(String),
      action: 'ROLE_GRANTED',
      outcome: 'FAILURE',
      actorUserId,
      impersonatorUserId,
      targetType: 'Role',
      targetId,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it('never relays a rolled-back write, nor rows of another schema', async () => {
    const rolledBack = randomUUID();
    await expect(
      db.prisma.$transaction(async (tx) => {
        await createAuditWriter(tx).record({ action: 'X', outcome: 'SUCCESS', targetId: rolledBack });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const elsewhere = randomUUID();
    await createAuditWriter(other.prisma).record({ action: 'X', outcome: 'SUCCESS', targetId: elsewhere });
    // A later committed row of our schema arrives: the earlier ones would have arrived before it (one connection).
    const marker = randomUUID();
    await createAuditWriter(db.prisma).record({ action: 'X', outcome: 'SUCCESS', targetId: marker });
    await waitFor(() => noticesFor(marker).length === 1);

    expect(noticesFor(rolledBack)).toEqual([]);
    expect(noticesFor(elsewhere)).toEqual([]);
  });
});
