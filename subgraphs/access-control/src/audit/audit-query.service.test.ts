import { randomUUID } from 'node:crypto';
import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import { isAppError } from '@gatehouse/errors';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { containsPattern } from '@gatehouse/db';
import {
  createAuditQueryService,
  decodeAuditCursor,
  encodeAuditCursor,
  type AuditLogFilterInput,
  type AuditQueryService,
} from './audit-query.service';
import { createAuditLogRepository } from './audit-log.repository';

let db: TestDatabase;
let service: AuditQueryService;
beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 3 });
  service = createAuditQueryService(createAuditLogRepository(db.prisma));
});
afterAll(async () => {
  await db?.close();
});

/** Each test works in its own UTC year, so the rows of the other tests never match its queries. */
const yearWindow = (year: number) => ({ from: `${year}-01-01T00:00:00Z`, to: `${year + 1}-01-01T00:00:00Z` });
const at = (year: number, second: number) => new Date(Date.UTC(year, 0, 1, 0, 0, second));

async function record(entries: Array<Partial<AuditEntry> & { at: Date }>): Promise<void> {
  const writer = createAuditWriter(db.prisma);
  for (const entry of entries) await writer.record({ action: 'NOTED', outcome: 'SUCCESS', ...entry });
}

/** Every matching entry's targetId, newest first, through list() with the test's year window. */
async function targets(year: number, filter: AuditLogFilterInput = {}): Promise<Array<string | null>> {
  const page = await service.list({ ...yearWindow(year), ...filter }, { first: 100 });
  expect(page.pageInfo.hasNextPage).toBe(false);
  return page.edges.map((edge) => edge.node.targetId);
}

/** The error `promise` rejects with: a BAD_USER_INPUT AppError, by reason and field. */
async function badInput(promise: Promise<unknown>): Promise<unknown> {
  const error: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isAppError(error)) throw new Error(`expected an AppError, got ${String(error)}`);
  expect(error.code).toBe('BAD_USER_INPUT');
  return error.details;
}

describe('list: keyset pagination', () => {
  it('pages newest first without duplicates or gaps while rows are being written', async () => {
    const year = 2001;
    const paging = { targetType: 'Paging' };
    // 20 rows at distinct seconds and 5 sharing one timestamp (ordered by id among themselves).
    await record(Array.from({ length: 20 }, (_, i) => ({ ...paging, at: at(year, i), targetId: `p${i}` })));
    await record(
      Array.from({ length: 5 }, (_, i) => ({ ...paging, at: at(year, 100), targetId: `same${i}` })),
    );
    const expected = (
      await db.pool.query<{ target_id: string }>(
        `SELECT target_id FROM audit_logs WHERE target_type = 'Paging' ORDER BY created_at DESC, id DESC`,
      )
    ).rows.map((row) => row.target_id);
    expect(expected).toHaveLength(25);
    expect(expected.slice(0, 5).every((target) => target.startsWith('same'))).toBe(true);

    const seen: Array<string | null> = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await service.list(paging, { first: 7, after });
      pages += 1;
      seen.push(...page.edges.map((edge) => edge.node.targetId));
      // Entries written between page requests are newer than every page already served: they neither shift
      // the later pages nor show up in them.
      await record([1, 2].map((n) => ({ ...paging, at: new Date(), targetId: `new-${pages}-${n}` })));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
      expect(after).toBe(page.edges.at(-1)!.cursor);
    }
    expect(pages).toBe(4);
    expect(seen).toEqual(expected);
    // A client starting over sees the new entries first.
    const again = await service.list(paging, { first: 2 });
    expect(again.edges.map((edge) => edge.node.targetId).sort()).toEqual(['new-4-1', 'new-4-2']);
  });

  it('returns an empty page with no cursor when nothing matches', async () => {
    const page = await service.list(yearWindow(1999), { first: 5 });
    expect(page).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('shows each entry with its outcome taken from metadata (null when there is none)', async () => {
    const year = 2041;
    const actorUserId = randomUUID();
    await record([
      {
        at: at(year, 1),
        action: 'ROLE_GRANTED',
        outcome: 'FAILURE',
        actorUserId,
        targetType: 'Role',
        targetId: 'shape',
        ip: '192.0.2.1',
        userAgent: 'UA',
        requestId: 'req-shape',
        metadata: { reason: 'X' },
      },
    ]);
    await db.pool.query(
      `INSERT INTO audit_logs (created_at, action, target_id) VALUES ($1, 'LEGACY_ROW', 'legacy')`,
      [at(year, 0)],
    );
    const page = await service.list(yearWindow(year));
    expect(page.edges.map((edge) => edge.node)).toEqual([
      {
        id: expect.any(String),
        createdAt: at(year, 1),
        action: 'ROLE_GRANTED',
        outcome: 'FAILURE',
        actorUserId,
        impersonatorUserId: null,
        targetType: 'Role',
        targetId: 'shape',
        ipAddress: '192.0.2.1',
        userAgent: 'UA',
        requestId: 'req-shape',
        metadata: { reason: 'X', outcome: 'FAILURE' },
      },
      expect.objectContaining({ action: 'LEGACY_ROW', outcome: null, metadata: {} }),
    ]);
  });
});

describe('list: filters', () => {
  const year = 2042;
  const alice = randomUUID();
  const bob = randomUUID();
  const admin = randomUUID();
  beforeAll(async () => {
    await record([
      { at: at(year, 1), targetId: 'a1', actorUserId: alice, action: 'LOGIN_SUCCEEDED', targetType: 'User' },
      {
        at: at(year, 2),
        targetId: 'a2',
        actorUserId: alice,
        action: 'LOGIN_FAILED',
        outcome: 'FAILURE',
        targetType: 'User',
      },
      {
        at: at(year, 3),
        targetId: 'b1',
        actorUserId: bob,
        impersonatorUserId: admin,
        action: 'ROLE_GRANTED',
        targetType: 'Role',
      },
      { at: at(year, 4), targetId: 'x1', actorUserId: admin, action: 'ROLE_REVOKED', targetType: 'Role' },
    ]);
  });

  it('by actor, which does not match the impersonator', async () => {
    expect(await targets(year, { actorUserId: alice })).toEqual(['a2', 'a1']);
    expect(await targets(year, { actorUserId: admin.toUpperCase() })).toEqual(['x1']);
  });

  it('by impersonator', async () => {
    expect(await targets(year, { impersonatorUserId: admin })).toEqual(['b1']);
  });

  it('by one action or any of several', async () => {
    expect(await targets(year, { action: 'LOGIN_FAILED' })).toEqual(['a2']);
    expect(await targets(year, { actions: ['ROLE_GRANTED', 'LOGIN_SUCCEEDED'] })).toEqual(['b1', 'a1']);
    expect(await targets(year, { action: 'ROLE_REVOKED', actions: ['LOGIN_FAILED'] })).toEqual(['x1', 'a2']);
  });

  it('by target type and target id', async () => {
    expect(await targets(year, { targetType: 'Role' })).toEqual(['x1', 'b1']);
    expect(await targets(year, { targetType: 'User', targetId: 'a1' })).toEqual(['a1']);
    expect(await targets(year, { targetId: 'nope' })).toEqual([]);
  });

  it('by outcome', async () => {
    expect(await targets(year, { outcome: 'FAILURE' })).toEqual(['a2']);
    expect(await targets(year, { outcome: 'success' })).toEqual(['x1', 'b1', 'a1']);
  });

  it('by date range: from inclusive, to exclusive', async () => {
    expect(
      await service
        .list({ from: at(year, 2), to: at(year, 4).toISOString() })
        .then((page) => page.edges.map((edge) => edge.node.targetId)),
    ).toEqual(['b1', 'a2']);
    expect(await targets(year, { from: `${year}-01-01` })).toEqual(['x1', 'b1', 'a2', 'a1']);
  });

  it('combines filters with AND, and treats blank values as absent', async () => {
    expect(await targets(year, { actorUserId: alice, outcome: 'SUCCESS', targetType: 'User' })).toEqual([
      'a1',
    ]);
    expect(await targets(year, { actorUserId: ' ', action: '', search: '  ', targetId: null })).toHaveLength(
      4,
    );
  });
});

describe('list: search', () => {
  const year = 2043;
  beforeAll(async () => {
    await record([
      { at: at(year, 1), targetId: 'in-action', action: 'PASSWORD_RESET_REQUESTED' },
      { at: at(year, 2), targetId: 'needle-target' },
      { at: at(year, 3), targetId: 'in-ip', ip: '203.0.113.77' },
      { at: at(year, 4), targetId: 'in-ua', userAgent: 'Mozilla/5.0 NeedleBrowser' },
      { at: at(year, 5), targetId: 'in-request', requestId: 'req-NEEDLE-1' },
      { at: at(year, 6), targetId: 'in-metadata', metadata: { note: 'a needle in the metadata' } },
      { at: at(year, 7), targetId: 'percent', metadata: { discount: '100% off' } },
      { at: at(year, 8), targetId: 'underscore', metadata: { key: 'snake_case' } },
      { at: at(year, 9), targetId: 'bang', metadata: { shout: 'hey!' } },
      { at: at(year, 10), targetId: 'plain', metadata: { key: 'snakeXcase 100 off hey' } },
    ]);
  });

  it('finds the term, case-insensitively, in the action, target id, IP, user agent, request id or metadata', async () => {
    expect(await targets(year, { search: 'NeEdLe' })).toEqual([
      'in-metadata',
      'in-request',
      'in-ua',
      'needle-target',
    ]);
    expect(await targets(year, { search: 'reset_req' })).toEqual(['in-action']);
    expect(await targets(year, { search: '113.77' })).toEqual(['in-ip']);
  });

  it('takes %, _ and the escape character literally', async () => {
    expect(await targets(year, { search: '%' })).toEqual(['percent']);
    expect(await targets(year, { search: '100%' })).toEqual(['percent']);
    expect(await targets(year, { search: 'snake_case' })).toEqual(['underscore']);
    expect(await targets(year, { search: '_' })).toEqual(expect.arrayContaining(['underscore', 'in-action']));
    expect(await targets(year, { search: '_' })).not.toContain('plain');
    expect(await targets(year, { search: 'hey!' })).toEqual(['bang']);
  });

  it('builds the pattern with every wildcard escaped', () => {
    expect(containsPattern('50%_off!')).toBe('%50!%!_off!!%');
  });
});

describe('batches', () => {
  it('yields every matching entry, newest first, in batches of the given size', async () => {
    const year = 2044;
    await record(Array.from({ length: 7 }, (_, i) => ({ at: at(year, i), targetId: `b${i}` })));
    const sizes: number[] = [];
    const seen: Array<string | null> = [];
    for await (const batch of service.batches(yearWindow(year), { batchSize: 3 })) {
      sizes.push(batch.length);
      seen.push(...batch.map((entry) => entry.targetId));
    }
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toEqual(['b6', 'b5', 'b4', 'b3', 'b2', 'b1', 'b0']);
  });

  it('validates the filter before the first query', () => {
    expect(() => service.batches({ outcome: 'MAYBE' })).toThrow('outcome must be SUCCESS or FAILURE');
  });
});

describe('validation', () => {
  it('refuses page sizes outside 1..100', async () => {
    for (const first of [0, 101, 1.5, -1]) {
      expect(await badInput(service.list({}, { first }))).toEqual({
        reason: 'AUDIT_PAGE_SIZE_INVALID',
        field: 'first',
      });
    }
  });

  it('refuses cursors it did not issue', async () => {
    const forged = [
      'not-base64-json',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from(JSON.stringify(['2040-01-01T00:00:00.000Z', "x' OR 1=1"])).toString('base64url'),
      Buffer.from(JSON.stringify(['yesterday', randomUUID()])).toString('base64url'),
    ];
    for (const after of forged) {
      expect(await badInput(service.list({}, { after }))).toEqual({
        reason: 'AUDIT_CURSOR_INVALID',
        field: 'after',
      });
    }
  });

  it('round-trips its own cursors', () => {
    const position = { createdAt: new Date('2040-05-06T07:08:09.123Z'), id: randomUUID() };
    expect(decodeAuditCursor(encodeAuditCursor(position))).toEqual(position);
  });

  it('refuses malformed filters, naming the field', async () => {
    const cases: Array<[AuditLogFilterInput, string]> = [
      [{ actorUserId: 'alice' }, 'actorUserId'],
      [{ impersonatorUserId: '123' }, 'impersonatorUserId'],
      [{ outcome: 'MAYBE' }, 'outcome'],
      [{ action: 'drop table' }, 'actions'],
      [{ from: 'last tuesday' }, 'from'],
      [{ to: '2040-13-45' }, 'to'],
      [{ from: '2041-01-01', to: '2040-01-01' }, 'from'],
      [{ search: 'x'.repeat(201) }, 'search'],
      [{ actions: Array.from({ length: 51 }, (_, i) => `A${i}`) }, 'actions'],
    ];
    for (const [filter, field] of cases) {
      expect(await badInput(service.list(filter))).toEqual({ reason: 'AUDIT_FILTER_INVALID', field });
    }
  });

  it('has no way to change or remove an entry', () => {
    expect(Object.keys(service).sort()).toEqual(['batches', 'list']);
  });
});
