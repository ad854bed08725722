import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '@gatehouse/config';
import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { deleteRedisKeys, redisUrlForTests, uniqueTestPrefix } from '@gatehouse/testing';
import { buildSchema, parse, type GraphQLError } from 'graphql';
import { gatewayConcerns } from './config';
import {
  analyzeOperation,
  AUTH_ROOT_FIELDS,
  createHttpEdge,
  createOperationAnalyzer,
  createSlidingWindowLimiter,
  millisecondsUntilFits,
  trustedDocumentsFrom,
  type QueryLimits,
} from './protection';
import { REPOSITORY_ROOT } from './subgraphs';

/** Unit tests of the gateway's protections; protection.e2e.test.ts drives them through real HTTP. */

function describeLimiter(name: string, createStore: () => KeyValueStore) {
  describe(`sliding-window limiter (${name})`, () => {
    let kv: KeyValueStore;
    let clock: number;
    const limiter = () => createSlidingWindowLimiter({ kv, now: () => clock });
    // Start exactly at a window boundary, so elapsed time is what each test says.
    const WINDOW = 60;
    beforeEach(() => {
      kv = createStore();
      clock = 1_000 * WINDOW * 1_000_000;
    });
    afterEach(() => kv.close());

    it('allows up to the limit in one window, then refuses with the wait until the next fits', async () => {
      const rl = limiter();
      const check = { key: 'read:ip:a', limit: 5, windowSeconds: WINDOW };
      const outcomes = [];
      for (let i = 0; i < 6; i += 1) outcomes.push((await rl.consume([check])).allowed);

      expect(outcomes).toEqual([true, true, true, true, true, false]);
      // 5 in the current window; the next request fits when they have decayed to 4: 12 s into the next window.
      const refused = await rl.consume([check]);
      expect(refused).toEqual({ allowed: false, retryAfterSeconds: 72, refusedKey: 'read:ip:a' });
    });

    it('counts a request by its cost (aliases) and rolls a refused one back entirely', async () => {
      const rl = limiter();
      const check = { key: 'auth:ip:b', limit: 10, windowSeconds: WINDOW };

      expect((await rl.consume([{ ...check, cost: 6 }])).allowed).toBe(true);
      expect((await rl.consume([{ ...check, cost: 100 }])).allowed).toBe(false);
      expect((await rl.consume([{ ...check, cost: 5 }])).allowed).toBe(false);
      // The refused 100 and 5 did not count: 4 still fit.
      expect((await rl.consume([{ ...check, cost: 4 }])).allowed).toBe(true);
      expect((await rl.consume([check])).allowed).toBe(false);
    });

    it('weights the previous window by the part of it still inside the sliding window', async () => {
      const rl = limiter();
      const check = { key: 'read:user:c', limit: 10, windowSeconds: WINDOW };
      expect((await rl.consume([{ ...check, cost: 10 }])).allowed).toBe(true);

      // 15 s into the next window, 75 % of the previous 10 still count: 7.5, so 2 more fit, not 3.
      clock += (WINDOW + 15) * 1000;
      expect((await rl.consume([{ ...check, cost: 3 }])).allowed).toBe(false);
      expect((await rl.consume([{ ...check, cost: 2 }])).allowed).toBe(true);
      // Two windows later nothing of the first burst counts.
      clock += 2 * WINDOW * 1000;
      expect((await rl.consume([{ ...check, cost: 10 }])).allowed).toBe(true);
    });

    it('refuses the request when any key is over (IP or user) and counts none of them', async () => {
      const rl = limiter();
      const ip = { key: 'write:ip:d', limit: 100, windowSeconds: WINDOW };
      const user = { key: 'write:user:d', limit: 2, windowSeconds: WINDOW };
      await rl.consume([ip, user]);
      await rl.consume([ip, user]);

      const refused = await rl.consume([ip, user]);
      const otherUser = await rl.consume([ip, { ...user, key: 'write:user:e' }]);

      expect(refused).toMatchObject({ allowed: false, refusedKey: 'write:user:d' });
      expect(otherUser.allowed).toBe(true);
      // ip: 2 + 1 (other user) = 3; the refused request was rolled back.
      expect(await kv.get(`rate:write:ip:d:${Math.floor(clock / (WINDOW * 1000))}`)).toBe('3');
    });

    it('keys are independent and expire after two windows', async () => {
      const rl = limiter();
      await rl.consume([{ key: 'read:ip:f', limit: 1, windowSeconds: 1 }]);
      const index = Math.floor(clock / 1000);
      expect(await kv.ttlSeconds(`rate:read:ip:f:${index}`)).toBe(2);
      expect((await rl.consume([{ key: 'read:ip:g', limit: 1, windowSeconds: 1 }])).allowed).toBe(true);
    });
  });
}

describeLimiter('in-process', () => new MemoryKeyValueStore());
const redisUrl = redisUrlForTests('gateway protection');
if (redisUrl) {
  const prefix = uniqueTestPrefix();
  let n = 0;
  describeLimiter('redis', () => new RedisKeyValueStore({ redisUrl, prefix: `${prefix}:${n++}` }));
  afterAll(() => deleteRedisKeys(redisUrl, prefix));
}

describe('sliding-window limiter without a store', () => {
  it('fails open and reports the store error', async () => {
    const errors: unknown[] = [];
    const broken = {
      increment: () => Promise.reject(new Error('redis down')),
      get: () => Promise.reject(new Error('redis down')),
    };
    const rl = createSlidingWindowLimiter({ kv: broken, onStoreError: (e) => errors.push(e) });

    expect(await rl.consume([{ key: 'x', limit: 1, windowSeconds: 1 }])).toEqual({
      allowed: true,
      retryAfterSeconds: 0,
    });
    expect(errors).toHaveLength(1);
  });

  it('computes the wait for a cost larger than the limit as the rest of two windows', () => {
    expect(
      millisecondsUntilFits({
        previous: 0,
        currentBefore: 0,
        cost: 11,
        limit: 10,
        windowMs: 60_000,
        elapsedMs: 10_000,
      }),
    ).toBe(110_000);
  });
});

const schema = buildSchema(`
  type Query { me: User, users(first: Int): [User!]!, plans: [Plan!]! }
  type Mutation { login(email: String!): Boolean, logout: Boolean }
  type User { id: ID!, friends(first: Int): [User!]!, name: String }
  type Plan { code: String }
`);
const limits: QueryLimits = {
  maxDepth: 4,
  maxCost: 200,
  maxAliases: 3,
  maxDirectives: 2,
  maxRootFields: 4,
  defaultListSize: 10,
};
const analyze = (query: string, variables?: Record<string, unknown>) =>
  analyzeOperation({
    document: parse(query),
    schema,
    limits,
    authFields: new Set(['login']),
    ...(variables ? { variables } : {}),
  });
const refusal = (query: string) => {
  try {
    analyze(query);
  } catch (error) {
    return (error as GraphQLError).extensions;
  }
  throw new Error('not refused');
};

describe('operation analysis', () => {
  it('costs 1 per field, multiplies under lists by first or the default size, and classes root fields', () => {
    expect(analyze('{ users(first: 5) { id friends { name } } }')).toMatchObject({
      depth: 3,
      // users 1 + id 5 + friends 5 + name 5×10
      cost: 61,
      byClass: { read: 1, write: 0, auth: 0 },
    });
    expect(analyze('query ($n: Int) { users(first: $n) { id } }', { n: 50 })).toMatchObject({
      cost: 51,
      sizeVariables: ['n'],
    });
    expect(analyze('mutation { a: login(email: "a") b: login(email: "b") logout }').byClass).toEqual({
      auth: 2,
      write: 1,
      read: 0,
    });
  });

  it('counts root fields reached through fragments and inline fragments', () => {
    const analysis = analyze(
      'mutation { ...F ... on Mutation { x: login(email: "x") } } fragment F on Mutation { login(email: "y") }',
    );
    expect(analysis.byClass.auth).toBe(2);
  });

  it('refuses each limit with its stable reason, limit and actual value', () => {
    expect(refusal('{ me { friends { friends { friends { id } } } } }')).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { reason: 'QUERY_TOO_DEEP', limit: 4, actual: 5 },
      http: { status: 400 },
    });
    expect(refusal('{ users(first: 100) { friends(first: 100) { id } } }')).toMatchObject({
      details: { reason: 'QUERY_TOO_COMPLEX' },
    });
    expect(refusal('{ a: me { id } b: me { id } c: me { id } d: me { id } }')).toMatchObject({
      details: { reason: 'TOO_MANY_ALIASES' },
    });
    expect(
      refusal('{ me @skip(if: false) { id @include(if: true) name @include(if: true) } }'),
    ).toMatchObject({ details: { reason: 'TOO_MANY_DIRECTIVES' } });
    expect(refusal('{ me { id } plans { code } users { id } __typename q: plans { code } }')).toMatchObject({
      details: { reason: 'TOO_MANY_ROOT_FIELDS' },
    });
  });

  it('does not loop on fragment cycles (validation refuses them afterwards)', () => {
    expect(analyze('{ me { ...A } } fragment A on User { friends { ...A } }').depth).toBe(2);
  });

  it('caches per document hash, refusals included, and re-measures when list-size variables change', () => {
    const analyzer = createOperationAnalyzer({ limits, authFields: new Set() });
    const query = 'query ($n: Int) { users(first: $n) { id } }';
    const document = parse(query);
    const run = (n: number) => analyzer.analyze({ queryHash: 'h1', document, schema, variables: { n } }).cost;

    expect(run(5)).toBe(6);
    expect(run(5)).toBe(6);
    expect(run(100)).toBe(101);
    expect(() => run(500)).toThrow('cost limit');
    // Same hash, different document: the cache answers (this is what makes the hot path a Map lookup).
    expect(
      analyzer.analyze({ queryHash: 'h1', document: parse('{ me { id } }'), schema, variables: { n: 5 } })
        .cost,
    ).toBe(6);
  });
});

describe('trusted documents', () => {
  const document = '{ plans { code } }';
  const hash = createHash('sha256').update(document).digest('hex');

  it('accepts a map or an Apollo manifest whose keys are the documents’ sha256', () => {
    expect(trustedDocumentsFrom({ [hash]: document }).get(hash)).toBe(document);
    const manifest = {
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [{ id: hash, body: document }],
    };
    expect(trustedDocumentsFrom(manifest).has(hash)).toBe(true);
  });

  it('refuses a manifest whose hash does not match its document', () => {
    expect(() => trustedDocumentsFrom({ [hash]: '{ me { id } }' })).toThrow(
      'is not the sha256 of its document',
    );
    expect(() => trustedDocumentsFrom({ abc: document })).toThrow('not a sha256 hex digest');
  });
});

describe('HTTP edge', () => {
  const edge = createHttpEdge({
    corsOrigins: ['https://app.example.com'],
    production: true,
    csrfExemptPaths: ['/unsubscribe'],
  });
  const headers = (values: Record<string, string>) => (name: string) => values[name];

  it('computes helmet headers once: HSTS 1 year with subdomains, DENY, nosniff, no-referrer, a CSP', () => {
    const map = new Map(edge.securityHeaders);
    expect(map.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect(map.get('x-frame-options')).toBe('DENY');
    expect(map.get('x-content-type-options')).toBe('nosniff');
    expect(map.get('referrer-policy')).toBe('no-referrer');
    expect(map.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('requires the double-submit token only on unsafe cookie-carrying requests without a bearer token', () => {
    const token = 'a'.repeat(43);
    expect(edge.csrfRefusal('POST', '/graphql', headers({ cookie: 'session=1' }))).toBe('CSRF_TOKEN_MISSING');
    expect(
      edge.csrfRefusal(
        'POST',
        '/graphql',
        headers({ cookie: `session=1; gh_csrf=${token}`, 'x-csrf-token': 'b'.repeat(43) }),
      ),
    ).toBe('CSRF_TOKEN_MISMATCH');
    expect(
      edge.csrfRefusal(
        'POST',
        '/graphql',
        headers({ cookie: `session=1; gh_csrf=${token}`, 'x-csrf-token': token }),
      ),
    ).toBeUndefined();
    expect(edge.csrfRefusal('GET', '/graphql', headers({ cookie: 'session=1' }))).toBeUndefined();
    expect(
      edge.csrfRefusal('POST', '/graphql', headers({ cookie: 'session=1', authorization: 'Bearer x' })),
    ).toBeUndefined();
    expect(edge.csrfRefusal('POST', '/graphql', headers({ cookie: `gh_csrf=${token}` }))).toBeUndefined();
    expect(edge.csrfRefusal('POST', '/unsubscribe', headers({ cookie: 'session=1' }))).toBeUndefined();
  });
});

describe('gateway protection configuration', () => {
  it('has documented defaults', () => {
    const config = loadConfig(gatewayConcerns, {});
    expect(config.rateLimit).toMatchObject({
      RATE_LIMIT_ENABLED: true,
      RATE_LIMIT_WINDOW_SECONDS: 60,
      RATE_LIMIT_AUTH_PER_IP: 30,
      RATE_LIMIT_READ_PER_USER: 3000,
    });
    expect(config.queryLimits).toMatchObject({
      GRAPHQL_MAX_DEPTH: 12,
      GRAPHQL_MAX_COST: 10_000,
      GRAPHQL_TRUSTED_ONLY: false,
    });
    expect(config.cors.CORS_ORIGINS).toEqual([]);
  });

  it('reports bad values together, and trusted-only mode without a manifest', () => {
    expect(() =>
      loadConfig(gatewayConcerns, {
        CORS_ORIGINS: 'https://app.example.com, https://*.example.com',
        RATE_LIMIT_AUTH_PER_IP: 'many',
        GRAPHQL_TRUSTED_ONLY: 'true',
      }),
    ).toThrow(
      expect.objectContaining({
        issues: expect.arrayContaining([
          expect.objectContaining({ variable: 'CORS_ORIGINS' }),
          expect.objectContaining({ variable: 'RATE_LIMIT_AUTH_PER_IP' }),
          expect.objectContaining({ variable: 'GRAPHQL_TRUSTED_ONLY' }),
        ]),
      }),
    );
    expect(
      loadConfig(gatewayConcerns, { CORS_ORIGINS: 'https://a.example.com,http://localhost:5173' }).cors
        .CORS_ORIGINS,
    ).toEqual(['https://a.example.com', 'http://localhost:5173']);
  });

  it('names only mutations that exist in the identity schema as auth fields', () => {
    const sdl = readFileSync(path.join(REPOSITORY_ROOT, 'subgraphs/identity/schema.graphql'), 'utf8');
    const mutation = /type Mutation \{([\s\S]*?)\n\}/.exec(sdl)?.[1] ?? '';
    const names = new Set([...mutation.matchAll(/^ {2}([a-zA-Z]+)[(:]/gm)].map((m) => m[1]));
    expect([...AUTH_ROOT_FIELDS].filter((field) => !names.has(field))).toEqual([]);
    expect(names.has('login')).toBe(true);
  });
});
