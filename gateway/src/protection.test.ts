import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '@gatehouse/config';
import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { deleteRedisKeys, redisUrlForTests, uniqueTestPrefix } from '@gatehouse/testing';
import {
  buildSchema,
  Kind,
  parse,
  type FieldDefinitionNode,
  type GraphQLError,
  type InputValueDefinitionNode,
} from 'graphql';
import { gatewayConcerns } from './config';
import {
  analyzeOperation,
  AUTH_ROOT_FIELDS,
  canonicalIp,
  createClientAddressResolver,
  createHttpEdge,
  createOperationAnalyzer,
  createSlidingWindowLimiter,
  CREDENTIAL_ARGUMENT,
  millisecondsUntilFits,
  NOT_AUTH_DESPITE_CREDENTIAL_ARGUMENT,
  parseTrustProxy,
  rateLimitChecks,
  rateLimitSubjectOf,
  trustedDocumentsFrom,
  type ClientAddressSource,
  type QueryLimits,
  type RateLimitPolicy,
} from './protection';
import { REPOSITORY_ROOT, SUBGRAPHS } from './subgraphs';

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

  it('rejects a TRUST_PROXY that is neither a hop count nor addresses and ranges, or trusts everyone', () => {
    for (const value of [
      'true',
      '10.0.0.0/33',
      'fd00::/129',
      '10.0.0.1/8/2',
      'lb.internal',
      '0.0.0.0/0',
      '99',
    ]) {
      expect(() => loadConfig(gatewayConcerns, { TRUST_PROXY: value })).toThrow(
        expect.objectContaining({ issues: [expect.objectContaining({ variable: 'TRUST_PROXY' })] }),
      );
    }
    expect(loadConfig(gatewayConcerns, {}).trustProxy.TRUST_PROXY).toEqual({ kind: 'none' });
    expect(loadConfig(gatewayConcerns, { TRUST_PROXY: '0' }).trustProxy.TRUST_PROXY).toEqual({
      kind: 'none',
    });
    expect(loadConfig(gatewayConcerns, { TRUST_PROXY: '2' }).trustProxy.TRUST_PROXY).toEqual({
      kind: 'hops',
      hops: 2,
    });
    expect(
      loadConfig(gatewayConcerns, { TRUST_PROXY: ' 10.0.0.0/8, FD00:0::/8 ,192.0.2.10,::ffff:198.51.100.1' })
        .trustProxy.TRUST_PROXY,
    ).toEqual({
      kind: 'ranges',
      ranges: ['10.0.0.0/8', 'fd00::/8', '192.0.2.10/32', '198.51.100.1/32'],
    });
  });

  it('puts every mutation that takes a password, code or token in the auth class, unless exempted with a reason', () => {
    // Every Mutation field of the four subgraphs, with the argument and input-field names reachable from it.
    const mutations = new Map<string, Set<string>>();
    const inputs = new Map<string, readonly InputValueDefinitionNode[]>();
    const mutationFields: FieldDefinitionNode[] = [];
    for (const { name } of SUBGRAPHS) {
      const sdl = readFileSync(path.join(REPOSITORY_ROOT, 'subgraphs', name, 'schema.graphql'), 'utf8');
      for (const definition of parse(sdl).definitions) {
        if (definition.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION) {
          inputs.set(definition.name.value, definition.fields ?? []);
        } else if (
          (definition.kind === Kind.OBJECT_TYPE_DEFINITION ||
            definition.kind === Kind.OBJECT_TYPE_EXTENSION) &&
          definition.name.value === 'Mutation'
        ) {
          mutationFields.push(...(definition.fields ?? []));
        }
      }
    }
    const namesUnder = (
      values: readonly InputValueDefinitionNode[],
      seen: Set<string>,
      into: Set<string>,
    ) => {
      for (const value of values) {
        into.add(value.name.value);
        let type = value.type;
        while (type.kind !== Kind.NAMED_TYPE) type = type.type;
        const nested = inputs.get(type.name.value);
        if (nested && !seen.has(type.name.value)) namesUnder(nested, seen.add(type.name.value), into);
      }
      return into;
    };
    for (const field of mutationFields) {
      mutations.set(field.name.value, namesUnder(field.arguments ?? [], new Set(), new Set()));
    }

    const takesCredential = [...mutations]
      .filter(([, names]) => [...names].some((name) => CREDENTIAL_ARGUMENT.test(name)))
      .map(([name]) => name);
    const unclassified = takesCredential.filter(
      (name) => !AUTH_ROOT_FIELDS.has(name) && !(name in NOT_AUTH_DESPITE_CREDENTIAL_ARGUMENT),
    );

    expect(mutations.size).toBeGreaterThan(40);
    expect(takesCredential).toEqual(
      expect.arrayContaining(['login', 'deleteAccount', 'disableMfa', 'confirmTotp']),
    );
    expect(unclassified).toEqual([]);
    // Both lists name only mutations that exist, and none is in both.
    expect([...AUTH_ROOT_FIELDS].filter((name) => !mutations.has(name))).toEqual([]);
    expect(Object.keys(NOT_AUTH_DESPITE_CREDENTIAL_ARGUMENT).filter((name) => !mutations.has(name))).toEqual(
      [],
    );
    expect(
      Object.keys(NOT_AUTH_DESPITE_CREDENTIAL_ARGUMENT).filter((name) => AUTH_ROOT_FIELDS.has(name)),
    ).toEqual([]);
  });
});

describe('client address', () => {
  it('canonicalises addresses: IPv4-mapped IPv6 as IPv4, IPv6 in RFC 5952 form, zones dropped', () => {
    expect(canonicalIp('203.0.113.7')).toBe('203.0.113.7');
    expect(canonicalIp('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(canonicalIp('::FFFF:cb00:7107')).toBe('203.0.113.7');
    expect(canonicalIp('0:0:0:0:0:ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(canonicalIp('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIp('2001:db8::')).toBe('2001:db8::');
    expect(canonicalIp('::')).toBe('::');
    expect(canonicalIp('::1')).toBe('::1');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalIp('64:ff9b::198.51.100.7')).toBe('64:ff9b::c633:6407');
    expect(canonicalIp('1::2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7');
    for (const garbage of ['', 'unknown', '1.2.3', '256.1.1.1', '2001:db8::1::1', '12345::', 'localhost']) {
      expect(canonicalIp(garbage)).toBeUndefined();
    }
  });

  it('rate limits an IPv6 client by its /64 and an IPv4 client by its address', () => {
    expect(rateLimitSubjectOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(rateLimitSubjectOf('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(rateLimitSubjectOf('2001:db8::1')).toBe('2001:db8::/64');
    expect(rateLimitSubjectOf('203.0.113.7')).toBe('203.0.113.7');

    const policy: RateLimitPolicy = {
      windowSeconds: 60,
      perIp: { auth: 1, write: 1, read: 1 },
      perUser: { auth: 1, write: 1, read: 1 },
    };
    const keyOf = (ip: string) =>
      rateLimitChecks({ auth: 1, write: 0, read: 0 }, policy, ip, undefined)[0]?.key;
    // Neighbours in one /64 share a bucket (however the address is written); the next /64 is someone else.
    expect(keyOf(canonicalIp('2001:DB8:0:7:0:0:0:1')!)).toBe(
      keyOf(canonicalIp('2001:db8:0:7:dead:beef::9')!),
    );
    expect(keyOf('2001:db8:0:7::1')).not.toBe(keyOf('2001:db8:0:8::1'));
  });

  const request = (
    remoteAddress: string | undefined,
    forwardedFor?: string | string[],
  ): ClientAddressSource => ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor as string },
  });

  it('trusts nobody by default: the TCP peer, whatever X-Forwarded-For says', () => {
    const resolve = createClientAddressResolver();
    expect(resolve(request('::ffff:198.51.100.1', '203.0.113.7'))).toBe('198.51.100.1');
    expect(resolve(request('2001:DB8::1'))).toBe('2001:db8::1');
    expect(resolve(request(undefined, '203.0.113.7'))).toBeUndefined();
    expect(createClientAddressResolver(parseTrustProxy('0'))(request('10.0.0.1', '1.1.1.1'))).toBe(
      '10.0.0.1',
    );
  });

  it('trusts the N nearest hops: the client is the address the farthest trusted hop saw', () => {
    const one = createClientAddressResolver(parseTrustProxy('1'));
    const two = createClientAddressResolver(parseTrustProxy('2'));
    // The client wrote "6.6.6.6" itself; the load balancer appended the address it saw.
    expect(one(request('10.0.0.2', '6.6.6.6, 203.0.113.7'))).toBe('203.0.113.7');
    expect(two(request('10.0.0.2', '6.6.6.6, 203.0.113.7, 10.0.0.1'))).toBe('203.0.113.7');
    // Repeated headers count as one list; ports and brackets are dropped; IPv6 is canonical.
    expect(two(request('10.0.0.2', ['6.6.6.6, [2001:DB8::7]:443', '10.0.0.1:80']))).toBe('2001:db8::7');
    // Fewer entries than hops: the farthest address there is; no header: the peer.
    expect(two(request('10.0.0.2', '203.0.113.7'))).toBe('203.0.113.7');
    expect(one(request('10.0.0.2'))).toBe('10.0.0.2');
    // A trusted hop that wrote garbage vouches for nothing: the last address vouched for.
    expect(two(request('10.0.0.2', '203.0.113.7, unknown'))).toBe('10.0.0.2');
  });

  it('walks X-Forwarded-For from the right past trusted ranges, and ignores it from an untrusted peer', () => {
    const resolve = createClientAddressResolver(parseTrustProxy('10.0.0.0/8, fd00::/8, 127.0.0.1'));
    expect(resolve(request('10.1.2.3', '6.6.6.6, 203.0.113.7, 10.9.9.9, fd00::1'))).toBe('203.0.113.7');
    expect(resolve(request('127.0.0.1', '2001:db8::1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(resolve(request('::ffff:10.1.2.3', '::ffff:203.0.113.7'))).toBe('203.0.113.7');
    // Spoofed by a client that is not one of the proxies: ignored.
    expect(resolve(request('198.51.100.1', '10.0.0.1, 203.0.113.7'))).toBe('198.51.100.1');
    expect(resolve(request('127.0.0.2', '203.0.113.7'))).toBe('127.0.0.2');
    // Only proxies in the chain: the farthest of them; garbage ends the walk.
    expect(resolve(request('10.1.2.3', '10.0.0.1'))).toBe('10.0.0.1');
    expect(resolve(request('10.1.2.3', 'garbage, 10.0.0.1'))).toBe('10.0.0.1');
  });
});
