import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@gatehouse/config';
import { createLogger } from '@gatehouse/logger';
import { auditServer } from 'graphql-http';
import {
  createAccessTokenSigner,
  parsePublicKeys,
  recordSessionRevoked,
  type AccessTokenSigner,
  type HttpService,
} from '@gatehouse/service';
import { TEST_SUBGRAPH_SECRET, generateRsaKeyPair } from '@gatehouse/service/testing';
import { gatewayConcerns } from './config';
import type { SubgraphUrls } from './gateway';
import { createGatewayProtection } from './protection';
import { startGateway } from './server';
import { SUPERGRAPH_FILE, type SubgraphName } from './subgraphs';
import { startSupergraph, type Supergraph } from './supergraph.test-support';
import { startRecordingProxy, type RecordingProxy } from './testing/recording-proxy.test-support';

/**
 * The gateway's protections through real HTTP, in front of the real subgraphs: a gateway configured from the
 * environment as main() configures it (own key pair, low limits), sharing identity's key/value store.
 */
const logger = createLogger({ name: 'protection-e2e', level: 'silent' });
const ISSUER = 'http://127.0.0.1:4000';
const ALLOWED_ORIGIN = 'https://app.example.test';
const TRUSTED_DOCUMENT = 'query TrustedPlans { plans { code } }';
const TRUSTED_HASH = createHash('sha256').update(TRUSTED_DOCUMENT).digest('hex');

let supergraph: Supergraph;
/** Between the gateways and billing: `requests` holds GraphQL requests, `restRequests` billing's REST routes. */
let billingProxy: RecordingProxy;
let gateway: HttpService;
let trustedGateway: HttpService;
/** TRUST_PROXY: 127.0.0.1 and 10.0.0.0/8 are proxies (other loopback addresses are not). */
let proxiedGateway: HttpService;
/** TRUST_PROXY=1: one load balancer in front. */
let hopGateway: HttpService;
let signer: AccessTokenSigner;
let manifestDir: string;

async function startProtectedGateway(env: Record<string, string>, keys: { publicKeyPem: string }) {
  const config = loadConfig(gatewayConcerns, {
    JWT_ISSUER: ISSUER,
    JWT_PUBLIC_KEY: keys.publicKeyPem,
    CORS_ORIGINS: ALLOWED_ORIGIN,
    ...env,
  });
  const urls = Object.fromEntries(
    (Object.keys(supergraph.subgraphs) as SubgraphName[]).map((name) => [
      name,
      `${name === 'billing' ? billingProxy.url : supergraph.subgraphs[name].url}/graphql`,
    ]),
  ) as SubgraphUrls;
  const protection = createGatewayProtection(
    {
      production: false,
      issuer: ISSUER,
      publicKeys: parsePublicKeys(keys.publicKeyPem),
      gatewayAuth: config.gatewayAuth,
      rateLimit: config.rateLimit,
      queryLimits: config.queryLimits,
      cors: config.cors,
      trustProxy: config.trustProxy,
    },
    { kv: supergraph.kv, logger },
  );
  return startGateway({
    supergraphSdl: await readFile(SUPERGRAPH_FILE, 'utf8'),
    subgraphUrls: urls,
    subgraphSecret: TEST_SUBGRAPH_SECRET,
    logger,
    production: false,
    playground: true,
    host: '127.0.0.1',
    port: 0,
    protection,
  });
}

beforeAll(async () => {
  supergraph = await startSupergraph();
  billingProxy = await startRecordingProxy(supergraph.subgraphs.billing.url);
  const keys = generateRsaKeyPair();
  signer = createAccessTokenSigner({
    privateKeyPem: keys.privateKeyPem,
    issuer: ISSUER,
    audience: 'gatehouse',
  });
  gateway = await startProtectedGateway(
    {
      RATE_LIMIT_AUTH_PER_IP: '10',
      RATE_LIMIT_READ_PER_USER: '5',
      RATE_LIMIT_REST_PER_IP: '3',
      GRAPHQL_MAX_DEPTH: '6',
      GRAPHQL_MAX_COST: '500',
      GRAPHQL_MAX_ALIASES: '120',
      GRAPHQL_MAX_ROOT_FIELDS: '120',
    },
    keys,
  );
  manifestDir = await mkdtemp(join(tmpdir(), 'gatehouse-trusted-'));
  const manifest = join(manifestDir, 'trusted-documents.json');
  await writeFile(manifest, JSON.stringify({ [TRUSTED_HASH]: TRUSTED_DOCUMENT }));
  trustedGateway = await startProtectedGateway(
    { GRAPHQL_TRUSTED_DOCUMENTS: manifest, GRAPHQL_TRUSTED_ONLY: 'true' },
    keys,
  );
  proxiedGateway = await startProtectedGateway(
    { TRUST_PROXY: '127.0.0.1/32, 10.0.0.0/8', RATE_LIMIT_AUTH_PER_IP: '3', RATE_LIMIT_REST_PER_IP: '2' },
    keys,
  );
  hopGateway = await startProtectedGateway({ TRUST_PROXY: '1', RATE_LIMIT_AUTH_PER_IP: '3' }, keys);
});

afterAll(async () => {
  await hopGateway?.stop();
  await proxiedGateway?.stop();
  await trustedGateway?.stop();
  await gateway?.stop();
  await billingProxy?.close();
  await supergraph?.close();
  if (manifestDir) await rm(manifestDir, { recursive: true, force: true });
});

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string; details?: Record<string, unknown> } }[];
}

async function post(
  body: object,
  headers: Record<string, string> = {},
  service: HttpService = gateway,
): Promise<{ status: number; headers: Headers; body: GraphQLBody }> {
  const response = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLBody };
}

const bearer = async (viewer: { userId: string; sessionId?: string }, ttlSeconds?: number, issuedAt?: Date) =>
  `Bearer ${await signer.sign({ roles: ['member'], ...viewer }, { ...(ttlSeconds ? { ttlSeconds } : {}), ...(issuedAt ? { issuedAt } : {}) })}`;

const loginAliases = (count: number) =>
  `mutation { ${Array.from({ length: count }, (_, i) => `l${i}: login(input: { email: "nobody${i}@example.test", password: "not the password" }) { __typename }`).join(' ')} }`;

describe('authentication at the gateway', () => {
  it('refuses a forged, expired or malformed token with 401 UNAUTHENTICATED before any subgraph is called', async () => {
    const before = billingProxy.requests.length;
    const forged = createAccessTokenSigner({
      privateKeyPem: generateRsaKeyPair().privateKeyPem,
      issuer: ISSUER,
      audience: 'gatehouse',
    });
    const tokens = [
      `Bearer ${await forged.sign({ userId: randomUUID(), roles: [] })}`,
      await bearer({ userId: randomUUID() }, 60, new Date(Date.now() - 3_600_000)),
      'Basic dXNlcjpwYXNz',
      'Bearer not.a.jwt',
    ];

    for (const authorization of tokens) {
      const { status, headers, body } = await post({ query: '{ plans { code } }' }, { authorization });
      expect(status).toBe(401);
      expect(headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    expect(billingProxy.requests.length).toBe(before);
  });

  it('refuses the token of a session identity recorded as revoked, and accepts the same user’s live session', async () => {
    const userId = randomUUID();
    const revoked = randomUUID();
    await recordSessionRevoked(supergraph.kv, revoked);

    const refused = await post(
      { query: '{ __typename }' },
      { authorization: await bearer({ userId, sessionId: revoked }) },
    );
    const live = await post(
      { query: '{ __typename }' },
      { authorization: await bearer({ userId, sessionId: randomUUID() }) },
    );

    expect(refused.status).toBe(401);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('forwards the Authorization header for re-verification but never client-supplied internal headers', async () => {
    const authorization = await bearer({ userId: randomUUID() });
    billingProxy.requests.length = 0;

    await post(
      { query: '{ plans { code } }' },
      {
        authorization,
        'x-user-id': 'admin',
        'x-gatehouse-user': 'admin',
        'x-gatehouse-roles': 'admin',
        'x-forwarded-for': '10.9.8.7',
        'x-forwarded-host': 'evil.example',
      },
    );

    const seen = billingProxy.requests[0]!;
    expect(seen.authorization).toBe(authorization);
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(Object.keys(seen).filter((name) => /^x-(user|gatehouse)-|^x-forwarded-host$/.test(name))).toEqual(
      [],
    );
  });
});

describe('rate limiting', () => {
  it('counts every aliased login as an attempt and refuses past the per-IP auth limit with 429 and Retry-After', async () => {
    const six = await post({ query: loginAliases(6) });
    const five = await post({ query: loginAliases(5) });
    const hundred = await post({ query: loginAliases(100) });
    const four = await post({ query: loginAliases(4) });
    const one = await post({ query: loginAliases(1) });

    expect(six.status).toBe(200);
    expect(six.body.errors?.some((e) => e.extensions?.code === 'RATE_LIMITED')).not.toBe(true);
    // Served: identity itself answered (the unknown accounts' credentials are wrong).
    expect(six.body.errors?.[0]?.extensions?.details?.reason).toBe('INVALID_CREDENTIALS');
    // 6 + 5 > 10: refused, and (never served) not counted.
    expect(five.status).toBe(429);
    expect(Number(five.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(five.body.errors?.[0]?.extensions).toEqual({
      code: 'RATE_LIMITED',
      details: { retryAfterSeconds: Number(five.headers.get('retry-after')) },
    });
    expect(hundred.status).toBe(429);
    expect(four.status).toBe(200);
    expect(four.body.errors?.[0]?.extensions?.details?.reason).toBe('INVALID_CREDENTIALS');
    expect(one.status).toBe(429);
  });

  it('limits each verified user separately (per-user read limit)', async () => {
    const alice = await bearer({ userId: randomUUID() });
    const bob = await bearer({ userId: randomUUID() });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1)
      statuses.push((await post({ query: '{ __typename }' }, { authorization: alice })).status);
    const bobStatus = (await post({ query: '{ __typename }' }, { authorization: bob })).status;
    // Aliases count per user too: 3 root fields when 0 are left.
    const aliased = await post(
      { query: '{ a: __typename b: __typename c: __typename }' },
      { authorization: bob },
    );
    const bobAgain = await post({ query: '{ a: __typename b: __typename }' }, { authorization: bob });

    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(bobStatus).toBe(200);
    expect(aliased.status).toBe(200);
    expect(bobAgain.status).toBe(429);
  });

  it('counts proxied REST routes per IP', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await fetch(`${gateway.url}/files/none.png`);
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    const last = await fetch(`${gateway.url}/files/none.png`);

    expect(statuses.slice(0, 3).every((status) => status !== 429)).toBe(true);
    expect(statuses[3]).toBe(429);
    expect(last.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(last.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('query limits', () => {
  it.each([
    // Deeper than 6 (and full of unknown fields: refused before validation even looks at it).
    ['QUERY_TOO_DEEP', '{ a { b { c { d { e { f { g { h } } } } } } } }'],
    [
      'QUERY_TOO_COMPLEX',
      '{ plans { code name } a1: plans { code } a2: plans { code } a3: plans { code } a4: plans { code } a5: plans { code } a6: plans { code } a7: plans { code } a8: plans { code } a9: plans { code } a10: plans { code } a11: plans { code } a12: plans { code } a13: plans { code } a14: plans { code } a15: plans { code } a16: plans { code } a17: plans { code } a18: plans { code } a19: plans { code } a20: plans { code } a21: plans { code } a22: plans { code } a23: plans { code } a24: plans { code } }',
    ],
    ['TOO_MANY_ALIASES', `{ ${Array.from({ length: 121 }, (_, i) => `t${i}: __typename`).join(' ')} }`],
  ])('refuses %s with 400 and a stable reason, before any subgraph is called', async (reason, query) => {
    const before = billingProxy.requests.length;
    const { status, body, headers } = await post({ query });

    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', details: { reason } });
    expect(headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(billingProxy.requests.length).toBe(before);
  });

  it('refuses a body over GRAPHQL_MAX_BODY_BYTES with 413', async () => {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename } # ${'x'.repeat(300 * 1024)}` }),
    });
    expect(response.status).toBe(413);
  });
});

describe('trusted documents', () => {
  it('executes a trusted document sent by hash only, and refuses any other document in trusted-only mode', async () => {
    const byHash = await post(
      {
        operationName: 'TrustedPlans',
        extensions: { persistedQuery: { version: 1, sha256Hash: TRUSTED_HASH } },
      },
      {},
      trustedGateway,
    );
    const handWritten = await post({ query: '{ plans { code name } }' }, {}, trustedGateway);
    const sameTextAsTrusted = await post({ query: TRUSTED_DOCUMENT }, {}, trustedGateway);

    expect(byHash.status).toBe(200);
    expect(byHash.body).toEqual({ data: { plans: expect.any(Array) } });
    expect(handWritten.status).toBe(400);
    expect(handWritten.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { reason: 'DOCUMENT_NOT_TRUSTED' },
    });
    expect(sameTextAsTrusted.status).toBe(200);
  });
});

describe('CSRF double-submit', () => {
  it('refuses a cookie-carrying POST without the token, and accepts it with the token from /auth/csrf', async () => {
    const issued = await fetch(`${gateway.url}/auth/csrf`);
    const { csrfToken } = (await issued.json()) as { csrfToken: string };
    const setCookie = issued.headers.get('set-cookie') ?? '';
    const cookie = `session=abc; ${setCookie.split(';', 1)[0]}`;

    const missing = await post({ query: '{ __typename }' }, { cookie: 'session=abc' });
    const mismatched = await post({ query: '{ __typename }' }, { cookie, 'x-csrf-token': 'x'.repeat(43) });
    const matching = await post({ query: '{ __typename }' }, { cookie, 'x-csrf-token': csrfToken });

    expect(setCookie).toMatch(/^gh_csrf=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    expect(missing.status).toBe(403);
    expect(missing.body.errors?.[0]?.extensions).toEqual({
      code: 'FORBIDDEN',
      details: { reason: 'CSRF_TOKEN_MISSING' },
    });
    expect(mismatched.body.errors?.[0]?.extensions?.details?.reason).toBe('CSRF_TOKEN_MISMATCH');
    expect(matching.status).toBe(200);
    expect(matching.body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('CORS and security headers', () => {
  it('grants an allowed origin credentials, answers its preflight, and refuses other origins', async () => {
    const preflight = (origin: string) =>
      fetch(`${gateway.url}/graphql`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, authorization',
        },
      });
    const allowed = await preflight(ALLOWED_ORIGIN);
    const denied = await preflight('https://evil.example');
    const allowedPost = await post({ query: '{ __typename }' }, { origin: ALLOWED_ORIGIN });
    const deniedPost = await post({ query: '{ __typename }' }, { origin: 'https://evil.example' });

    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    expect(allowedPost.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(allowedPost.headers.get('access-control-expose-headers')).toContain('retry-after');
    expect(deniedPost.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('puts helmet’s headers on GraphQL answers, errors, the playground (own CSP), REST answers and 404s', async () => {
    const answers = {
      graphql: (await post({ query: '{ __typename }' })).headers,
      error: (await post({ query: '{ nope }' })).headers,
      playground: (await fetch(`${gateway.url}/playground`)).headers,
      rest: (await fetch(`${gateway.url}/unsubscribe`)).headers,
      notFound: (await fetch(`${gateway.url}/nowhere`)).headers,
    };
    for (const headers of Object.values(answers)) {
      expect(headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('referrer-policy')).toBe('no-referrer');
      expect(headers.get('content-security-policy')).toBeTruthy();
    }
    expect(answers.graphql.get('content-security-policy')).toContain("default-src 'none'");
    expect(answers.playground.get('content-security-policy')).toContain("script-src 'self'");
  });
});

/** A POST sent from `localAddress` (any 127.x.y.z reaches the gateway on 127.0.0.1): another TCP peer. */
function postFrom(
  service: HttpService,
  localAddress: string,
  body: object,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: GraphQLBody }> {
  const url = new URL('/graphql', service.url);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as GraphQLBody,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** A random byte, so every run's clients get rate-limit buckets of their own. */
const octet = () => 1 + Math.floor(Math.random() * 254);
const hextet = () => Math.floor(Math.random() * 0xfff0).toString(16);
/** One `auth` attempt that costs identity nothing (an unknown verification token). */
const AUTH_ATTEMPT = { query: 'mutation { verifyEmail(token: "not-a-token") { id } }' };

describe('client address (TRUST_PROXY)', () => {
  it('keys rate limits by the address a trusted proxy vouches for, and sends subgraphs that address', async () => {
    const alice = `198.18.${octet()}.${octet()}`;
    const bob = `198.19.${octet()}.${octet()}`;
    // The client wrote 6.6.6.6 itself; the proxies (127.0.0.1 and 10.0.0.7) appended what they saw.
    const via = (client: string) => ({ 'x-forwarded-for': `6.6.6.6, ${client}, 10.0.0.7` });

    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await post(AUTH_ATTEMPT, via(alice), proxiedGateway)).status);
    const bobStatus = (await post(AUTH_ATTEMPT, via(bob), proxiedGateway)).status;
    billingProxy.requests.length = 0;
    await post({ query: '{ plans { code } }' }, via(alice), proxiedGateway);

    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(bobStatus).toBe(200);
    expect(billingProxy.requests[0]?.['x-forwarded-for']).toBe(alice);
  });

  it('ignores X-Forwarded-For from a peer outside the trusted ranges: it is keyed and forwarded as itself', async () => {
    const peer = `127.${octet()}.${octet()}.${octet()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const spoofed = { 'x-forwarded-for': `10.0.0.1, 198.18.${octet()}.${i + 1}` };
      statuses.push((await postFrom(proxiedGateway, peer, AUTH_ATTEMPT, spoofed)).status);
    }
    billingProxy.requests.length = 0;
    const claim = { 'x-forwarded-for': '198.18.0.1' };
    await postFrom(proxiedGateway, peer, { query: '{ plans { code } }' }, claim);
    // The same claim through the trusted proxy (127.0.0.1) is believed.
    await postFrom(proxiedGateway, '127.0.0.1', { query: '{ plans { code } }' }, claim);

    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(billingProxy.requests.map((headers) => headers['x-forwarded-for'])).toEqual([peer, '198.18.0.1']);
  });

  it('with a hop count, takes the address the nearest proxy saw, whatever the client wrote left of it', async () => {
    const client = `198.18.${octet()}.${octet()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const headers = { 'x-forwarded-for': `203.0.113.${i + 1}, ${client}` };
      statuses.push((await post(AUTH_ATTEMPT, headers, hopGateway)).status);
    }
    const other = await post(
      AUTH_ATTEMPT,
      { 'x-forwarded-for': `${client}, 198.19.${octet()}.1` },
      hopGateway,
    );
    billingProxy.requests.length = 0;
    await post({ query: '{ plans { code } }' }, { 'x-forwarded-for': `6.6.6.6,${client}` }, hopGateway);

    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(other.status).toBe(200);
    expect(billingProxy.requests[0]?.['x-forwarded-for']).toBe(client);
  });

  it('counts the proxied REST routes by the same address, and sends it to their service', async () => {
    const alice = { 'x-forwarded-for': `198.18.${octet()}.${octet()}` };
    const bob = { 'x-forwarded-for': `198.19.${octet()}.${octet()}` };
    const file = async (headers: Record<string, string>) => {
      const response = await fetch(`${proxiedGateway.url}/files/none.png`, { headers });
      await response.arrayBuffer();
      return response.status;
    };
    const statuses = [await file(alice), await file(alice), await file(alice)];
    const bobStatus = await file(bob);
    billingProxy.restRequests.length = 0;
    const usage = await fetch(`${proxiedGateway.url}/billing/usage`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': `6.6.6.6, ${bob['x-forwarded-for']}`,
      },
      body: '{}',
    });
    await usage.arrayBuffer();

    expect(statuses.map((status) => status === 429)).toEqual([false, false, true]);
    expect(bobStatus).not.toBe(429);
    expect(billingProxy.restRequests[0]?.['x-forwarded-for']).toBe(bob['x-forwarded-for']);
  });

  it('counts IPv6 clients of one /64 in one bucket, however their addresses are written', async () => {
    const prefix = `2001:db8:${hextet()}:${hextet()}`;
    const neighbours = [`${prefix}::1`, `${prefix}:0:0:0:2`, `${prefix.toUpperCase()}:abcd::3`];
    const from = (address: string) => ({ 'x-forwarded-for': address });

    const statuses: number[] = [];
    for (const address of neighbours)
      statuses.push((await post(AUTH_ATTEMPT, from(address), proxiedGateway)).status);
    const sameSlash64 = await post(AUTH_ATTEMPT, from(`${prefix}:ffff:ffff:ffff:ffff`), proxiedGateway);
    const mapped = await post(AUTH_ATTEMPT, from(`::ffff:198.18.${octet()}.${octet()}`), proxiedGateway);
    const nextSlash64 = await post(AUTH_ATTEMPT, from(`2001:db8:${hextet()}:${hextet()}::1`), proxiedGateway);

    expect(statuses).toEqual([200, 200, 200]);
    expect(sameSlash64.status).toBe(429);
    expect(mapped.status).toBe(200);
    expect(nextSlash64.status).toBe(200);
  });
});

describe('auth rate class', () => {
  it('counts password-checking mutations as auth attempts: they exhaust the budget login shares', async () => {
    const client = { 'x-forwarded-for': `198.18.${octet()}.${octet()}` };
    const first = await post({ query: loginAliases(1) }, client, proxiedGateway);
    const checking = await post(
      {
        query:
          'mutation { a: deleteAccount(password: "guess") b: enrollTotp(password: "guess") { __typename } }',
      },
      client,
      proxiedGateway,
    );
    const next = await post({ query: loginAliases(1) }, client, proxiedGateway);

    expect(first.status).toBe(200);
    // Served (identity refused them: no access token), and counted: 1 + 2 of the 3 auth attempts.
    expect(checking.status).toBe(200);
    expect(checking.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(next.status).toBe(429);
    expect(next.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });
});

describe('GraphQL over HTTP', () => {
  it('passes every MUST and SHOULD of the graphql-http server audit', async () => {
    const results = await auditServer({ url: `${gateway.url}/graphql` });
    const required = results.filter((result) => !result.name.startsWith('MAY'));
    const failing = required
      .filter((result) => result.status !== 'ok')
      .map((result) => `${result.id} ${result.name}: ${'reason' in result ? result.reason : ''}`);

    expect(required.length).toBeGreaterThanOrEqual(36);
    expect(failing).toEqual([]);
  });

  const accepting = (accept: string) => ({ accept });
  const JSON_ONLY = 'application/json';
  const GRAPHQL_RESPONSE = 'application/graphql-response+json';

  it('answers request errors 200 for application/json, 4xx for graphql-response+json, and keeps its refusals', async () => {
    const requestErrors = [
      { query: '{' },
      { query: '{ nope }' },
      { query: 'query ($name: String!) { __type(name: $name) { name } }', variables: { name: null } },
      { query: 'query A { __typename }', operationName: 'B' },
      { query: 'query A { __typename } query B { __typename }' },
    ];
    for (const body of requestErrors) {
      const json = await post(body, accepting(JSON_ONLY));
      const graphqlResponse = await post(body, accepting(GRAPHQL_RESPONSE));
      expect([json.status, graphqlResponse.status]).toEqual([200, 400]);
      expect(json.headers.get('content-type')).toContain(JSON_ONLY);
      expect(json.body.errors?.length).toBeGreaterThan(0);
      expect(json.body).not.toHaveProperty('data');
    }

    // Malformed HTTP and the gateway's own refusals keep their status whatever the client accepts.
    const notJson = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: JSON_ONLY },
      body: '{ "not json',
    });
    const tooDeep = await post(
      { query: '{ a { b { c { d { e { f { g { h } } } } } } } }' },
      accepting(JSON_ONLY),
    );
    const forged = await post(
      { query: '{ __typename }' },
      { ...accepting(JSON_ONLY), authorization: 'Bearer not.a.jwt' },
    );
    const revoked = randomUUID();
    await recordSessionRevoked(supergraph.kv, revoked);
    const revokedSession = await post(
      { query: '{ __typename }' },
      { ...accepting(JSON_ONLY), authorization: await bearer({ userId: randomUUID(), sessionId: revoked }) },
    );
    const limited = { 'x-forwarded-for': `198.18.${octet()}.${octet()}` };
    const overLimit = await post(
      { query: loginAliases(4) },
      { ...accepting(JSON_ONLY), ...limited },
      proxiedGateway,
    );

    expect(notJson.status).toBe(400);
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.errors?.[0]?.extensions?.details?.reason).toBe('QUERY_TOO_DEEP');
    expect(forged.status).toBe(401);
    expect(revokedSession.status).toBe(401);
    expect(overLimit.status).toBe(429);
    expect(overLimit.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
