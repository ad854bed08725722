import { randomUUID } from 'node:crypto';
import { get, request, type IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createAuditWriter } from '@gatehouse/audit';
import { createLogger } from '@gatehouse/logger';
import { startHttpService, type HttpService } from '@gatehouse/service';
import { createTestAuth } from '@gatehouse/service/testing';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import {
  AUDIT_CSV_COLUMNS,
  AUDIT_EXPORT_PATH,
  authorizeAuditReaders,
  createAuditExportRoute,
  type AuditExportRouteOptions,
} from './audit-export.route';
import {
  createAuditLogRepository,
  type AuditLogRepository,
  type AuditQueryPool,
} from './audit-log.repository';
import { csvField, csvRecord } from './csv';

// Real HTTP (startHttpService), real PostgreSQL, real access tokens.

jest.setTimeout(60_000);

const logger = createLogger({ name: 'audit-export-test', level: 'silent' });
const { signer, verifier, tokenFor } = createTestAuth();
const REVOKED_SESSION = 'revoked-session';

let db: TestDatabase;
let service: HttpService;
/** How many keyset queries the route has made: shows the export reading ahead only as fast as it is written. */
let queries = 0;
let routeOptions: Partial<AuditExportRouteOptions> = {};
/** Reads through the pg pool instead of Prisma (both count their queries). */
let poolRepository: AuditLogRepository;
const adminId = randomUUID();
/** An administrator's token: what grants the export is the `audit:read` permission, never the `admin` role. */
const adminToken = () => signer.sign({ userId: adminId, roles: ['admin'], permissions: ['audit:read'] });

/** V8's full garbage collection (exposed at run time: Jest's workers do not get --expose-gc). */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 4 });
  const counting = {
    $queryRaw: ((...args: Parameters<TestDatabase['prisma']['$queryRaw']>) => {
      queries += 1;
      return db.prisma.$queryRaw(...args);
    }) as TestDatabase['prisma']['$queryRaw'],
  };
  const countingPool: AuditQueryPool = {
    query: (text, values) => {
      queries += 1;
      return db.pool.query(text, values);
    },
  };
  poolRepository = createAuditLogRepository(counting, countingPool);
  const throughPrisma = createAuditLogRepository(counting);
  const authorize = authorizeAuditReaders({
    verifier,
    sessionCheck: async (viewer) => viewer.sessionId !== REVOKED_SESSION,
  });
  const audit = createAuditWriter(db.prisma);
  service = await startHttpService({
    name: 'access-control',
    host: '127.0.0.1',
    port: 0,
    logger,
    readinessChecks: {},
    routes: (req, res, requestId) =>
      createAuditExportRoute({ repository: throughPrisma, authorize, logger, audit, ...routeOptions })(
        req,
        res,
        requestId,
      ),
  });
});

afterAll(async () => {
  await service?.stop();
  await db?.close();
});

beforeEach(() => {
  routeOptions = {};
});

interface Response {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
}

async function fetchText(path: string, init: { token?: string; method?: string } = {}): Promise<Response> {
  const response = await fetch(`${service.url}${path}`, {
    method: init.method ?? 'GET',
    headers: init.token === undefined ? {} : { authorization: `Bearer ${init.token}` },
  });
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers.entries()),
    text: await response.text(),
  };
}

/** RFC 4180 parser, to check what a spreadsheet would read. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 1;
    } else field += char;
  }
  if (field !== '' || record.length > 0) throw new Error('CSV does not end with CRLF');
  return records;
}

const window = (year: number) => `from=${year}-01-01T00:00:00Z&to=${year + 1}-01-01T00:00:00Z`;

describe('csv helpers', () => {
  it('quotes per RFC 4180 and defuses formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField(null)).toBe('');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    for (const start of ['+', '-', '@', '\t', '\r'])
      expect(
        csvField(`${start}1`).startsWith(`'${start}`) || csvField(`${start}1`).startsWith(`"'${start}`),
      ).toBe(true);
    expect(csvRecord(['a', null, 'c'])).toBe('a,,c\r\n');
  });
});

describe('authorization', () => {
  it('answers 401 without a token, with a malformed or invalid one, and for an ended session', async () => {
    const forged = await createTestAuth().signer.sign({
      userId: adminId,
      roles: ['admin'],
      permissions: ['audit:read'],
    });
    const revoked = await signer.sign({ userId: adminId, roles: ['admin'], sessionId: REVOKED_SESSION });
    for (const token of [undefined, 'not-a-jwt', forged, revoked]) {
      const response = await fetchText(
        `${AUDIT_EXPORT_PATH}?format=csv`,
        token === undefined ? {} : { token },
      );
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(JSON.parse(response.text)).toEqual({ error: 'UNAUTHENTICATED', message: expect.any(String) });
    }
    const basic = await fetch(`${service.url}${AUDIT_EXPORT_PATH}`, {
      headers: { authorization: 'Basic eDp5' },
    });
    expect(basic.status).toBe(401);
  });

  it('answers 403 to a member without the audit:read permission', async () => {
    const response = await fetchText(`${AUDIT_EXPORT_PATH}?format=csv`, {
      token: await tokenFor(randomUUID()),
    });
    expect(response.status).toBe(403);
    expect(JSON.parse(response.text)).toMatchObject({ error: 'FORBIDDEN' });
    // Issue #14: the `admin` role claim alone grants nothing (a demoted administrator's token still carries it).
    const roleClaimOnly = await fetchText(`${AUDIT_EXPORT_PATH}?format=csv`, {
      token: await tokenFor(randomUUID(), ['admin']),
    });
    expect(roleClaimOnly.status).toBe(403);
  });

  it('lets administrators and holders of audit:read export', async () => {
    const support = await signer.sign({
      userId: randomUUID(),
      roles: ['support'],
      permissions: ['audit:read'],
    });
    for (const token of [await adminToken(), support]) {
      expect((await fetchText(`${AUDIT_EXPORT_PATH}?${window(1990)}`, { token })).status).toBe(200);
    }
  });

  it('answers 500 when the authorization itself fails, and checks it before the parameters', async () => {
    routeOptions = { authorize: () => Promise.reject(new Error('verifier down')) };
    expect((await fetchText(`${AUDIT_EXPORT_PATH}?format=xml`)).status).toBe(500);
    routeOptions = { authorize: async () => false };
    expect((await fetchText(`${AUDIT_EXPORT_PATH}?format=xml`)).status).toBe(403);
  });
});

describe('requests', () => {
  let token: string;
  beforeAll(async () => {
    token = await adminToken();
  });

  it('answers 405 to anything but GET, and leaves other paths to other routes', async () => {
    const response = await fetchText(AUDIT_EXPORT_PATH, { token, method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET');
    expect((await fetchText(`${AUDIT_EXPORT_PATH}/x`, { token })).status).toBe(404);
  });

  it('answers 400 to an unknown format or a malformed filter, naming it', async () => {
    const format = await fetchText(`${AUDIT_EXPORT_PATH}?format=xml`, { token });
    expect(format.status).toBe(400);
    expect(JSON.parse(format.text)).toMatchObject({ error: 'AUDIT_EXPORT_FORMAT_INVALID', field: 'format' });
    const filter = await fetchText(`${AUDIT_EXPORT_PATH}?format=csv&actorUserId=bob`, { token });
    expect(filter.status).toBe(400);
    expect(JSON.parse(filter.text)).toMatchObject({ error: 'AUDIT_FILTER_INVALID', field: 'actorUserId' });
  });
});

describe('export content', () => {
  const year = 2045;
  const actor = randomUUID();
  let token: string;
  beforeAll(async () => {
    token = await adminToken();
    const writer = createAuditWriter(db.prisma);
    const base = { outcome: 'SUCCESS' as const, actorUserId: actor };
    await writer.record({
      ...base,
      action: 'NOTED',
      at: new Date(Date.UTC(year, 0, 1, 0, 0, 1)),
      targetId: '=cmd|" /C calc"!A0',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64), "quoted"',
      requestId: '+1-555',
      ip: '@evil',
      metadata: { note: 'multi\r\nline, with comma', formula: '-2+3' },
    });
    await writer.record({
      ...base,
      action: 'OTHER',
      outcome: 'FAILURE',
      at: new Date(Date.UTC(year, 0, 1, 0, 0, 2)),
      targetType: 'Role',
      targetId: 'plain',
    });
  });

  it('streams CSV as an attachment: header row, RFC 4180 quoting, formulas defused', async () => {
    const response = await fetchText(`${AUDIT_EXPORT_PATH}?format=csv&${window(year)}`, { token });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(response.headers['content-disposition']).toMatch(/^attachment; filename="audit-logs-.+\.csv"$/);
    expect(response.headers['cache-control']).toBe('no-store');
    const [header, ...rows] = parseCsv(response.text);
    expect(header).toEqual([...AUDIT_CSV_COLUMNS]);
    expect(rows).toHaveLength(2);
    const byColumn = rows.map((row) => Object.fromEntries(header!.map((name, i) => [name, row[i]])));
    expect(byColumn[0]).toMatchObject({
      action: 'OTHER',
      outcome: 'FAILURE',
      target_type: 'Role',
      target_id: 'plain',
      actor_user_id: actor,
      impersonator_user_id: '',
      created_at: `${year}-01-01T00:00:02.000Z`,
    });
    expect(byColumn[1]).toMatchObject({
      action: 'NOTED',
      target_id: `'=cmd|" /C calc"!A0`,
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64), "quoted"',
      request_id: "'+1-555",
      ip_address: "'@evil",
    });
    // JSON in a cell starts with `{`: no prefix needed, and it round-trips.
    expect(JSON.parse(byColumn[1]!.metadata!)).toEqual({
      note: 'multi\r\nline, with comma',
      formula: '-2+3',
      outcome: 'SUCCESS',
    });
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('streams JSON as an array of entries, with the same filters as the query', async () => {
    const response = await fetchText(
      `${AUDIT_EXPORT_PATH}?format=json&${window(year)}&action=NOTED,MISSING`,
      {
        token,
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.headers['content-disposition']).toMatch(/^attachment; filename="audit-logs-.+\.json"$/);
    expect(JSON.parse(response.text)).toEqual([
      expect.objectContaining({
        action: 'NOTED',
        outcome: 'SUCCESS',
        targetId: '=cmd|" /C calc"!A0',
        createdAt: `${year}-01-01T00:00:01.000Z`,
        metadata: { note: 'multi\r\nline, with comma', formula: '-2+3', outcome: 'SUCCESS' },
      }),
    ]);
    const failures = await fetchText(`${AUDIT_EXPORT_PATH}?format=json&${window(year)}&outcome=FAILURE`, {
      token,
    });
    expect(JSON.parse(failures.text).map((entry: { targetId: string }) => entry.targetId)).toEqual(['plain']);
    const none = await fetchText(
      `${AUDIT_EXPORT_PATH}?format=json&${window(year)}&search=nothing-like-this`,
      {
        token,
      },
    );
    expect(JSON.parse(none.text)).toEqual([]);
  });

  it('exports the same bytes whether it reads through Prisma or the pg pool', async () => {
    const path = `${AUDIT_EXPORT_PATH}?format=json&${window(year)}&search=%2C`;
    const throughPrisma = await fetchText(path, { token });
    routeOptions = { repository: poolRepository };
    const throughPool = await fetchText(path, { token });
    expect(JSON.parse(throughPool.text)).toHaveLength(1);
    expect(throughPool.text).toBe(throughPrisma.text);
  });

  it('records each export in the audit trail, with the exporting administrator', async () => {
    await fetchText(`${AUDIT_EXPORT_PATH}?format=json&${window(year)}&targetType=Role`, { token });
    const row = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: 'AUDIT_LOGS_EXPORTED', metadata: { path: ['filter', 'targetType'], equals: 'Role' } },
    });
    expect(row).toMatchObject({
      actorUserId: adminId,
      targetType: 'AuditLog',
      metadata: {
        format: 'json',
        rows: 1,
        outcome: 'SUCCESS',
        filter: expect.objectContaining({ targetType: 'Role' }),
      },
    });
  });
});

describe('large exports', () => {
  const year = 2050;
  const ROWS = 100_000;
  let token: string;
  beforeAll(async () => {
    token = await adminToken();
    // One statement; a realistic row (~300 bytes of CSV), one row per 10 ms of the year. Triggers off for the bulk
    // load (replica role, this transaction only): 100,000 live-feed notices would only load every listener.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL session_replication_role = replica');
      await client.query(
        `INSERT INTO audit_logs (created_at, actor_user_id, action, target_type, target_id, ip_address, user_agent,
                               request_id, metadata)
       SELECT make_timestamptz($1, 1, 1, 0, 0, 0, 'UTC') + i * interval '10 milliseconds', gen_random_uuid(),
              'LOGIN_SUCCEEDED', 'User', 'user-' || i, '198.51.100.' || (i % 250),
              'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
              'req-' || i, jsonb_build_object('outcome', 'SUCCESS', 'sessionId', gen_random_uuid(), 'method', 'password')
         FROM generate_series(1, $2::int) AS i`,
        [year, ROWS],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });

  /** GETs `path`, counting lines and bytes without keeping the body; `pauseMs` holds off reading at first. */
  function download(
    path: string,
    onChunk: () => void,
    pauseMs = 0,
  ): Promise<{ status: number; lines: number; bytes: number; queriesAfterPause: number }> {
    return new Promise((resolve, reject) => {
      const req = get(`${service.url}${path}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
        let lines = 0;
        let bytes = 0;
        let queriesAfterPause = -1;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
          onChunk();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, lines, bytes, queriesAfterPause }));
        res.on('error', reject);
        if (pauseMs > 0) {
          res.pause();
          setTimeout(() => {
            queriesAfterPause = queries;
            res.resume();
          }, pauseMs);
        }
      });
      req.on('error', reject);
    });
  }

  it(`streams ${ROWS} rows of CSV in bounded memory`, async () => {
    routeOptions = { repository: poolRepository };
    gc();
    const baseline = process.memoryUsage().heapUsed;
    const retained: number[] = [];
    // What the process holds on to while streaming: the heap right after a full collection.
    const timer = setInterval(() => {
      gc();
      retained.push(process.memoryUsage().heapUsed - baseline);
    }, 200);
    try {
      const result = await download(`${AUDIT_EXPORT_PATH}?format=csv&${window(year)}`, () => undefined);
      expect(result.status).toBe(200);
      expect(result.lines).toBe(ROWS + 1);
      expect(result.bytes).toBeGreaterThan(20 * 1024 * 1024);
    } finally {
      clearInterval(timer);
    }
    // Sampled while the rows streamed (how long that takes is the benchmark's business, not this test's).
    expect(retained.length).toBeGreaterThanOrEqual(2);
    // The body is over 20 MB (twice that as JS strings): keeping it, or a large part of it, would exceed this.
    expect(Math.max(...retained) / 1024 / 1024).toBeLessThan(16);
  });

  it('reads ahead only as fast as the client takes the rows (backpressure)', async () => {
    routeOptions = { repository: poolRepository };
    const before = queries;
    // The first 40,000 rows (one every 10 ms): 40 batches.
    const range = `from=${year}-01-01T00:00:00.001Z&to=${year}-01-01T00:06:40.001Z`;
    const result = await download(`${AUDIT_EXPORT_PATH}?format=json&${range}`, () => undefined, 1000);
    expect(result.status).toBe(200);
    expect(result.lines).toBe(40_000 + 2);
    expect(queries - before).toBe(40 + 1);
    // While the client was not reading, the server stopped once the socket buffers were full (a few batches).
    expect(result.queriesAfterPause - before).toBeLessThan(25);
  });

  it('stops reading when the client goes away', async () => {
    const before = queries;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${service.url}${AUDIT_EXPORT_PATH}?format=csv&${window(year)}`,
        { headers: { authorization: `Bearer ${token}` } },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const row = await db.prisma.auditLog.findFirst({
      where: { action: 'AUDIT_LOGS_EXPORTED', metadata: { path: ['outcome'], equals: 'FAILURE' } },
    });
    expect(row).not.toBeNull();
    expect(queries - before).toBeLessThan(40);
  });
});
