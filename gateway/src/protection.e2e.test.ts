import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@gatehouse/config';
import { createLogger } from '@gatehouse/logger';
import {
  createAccessTokenSigner,
  generateRsaKeyPair,
  parsePublicKeys,
  recordSessionRevoked,
  type AccessTokenSigner,
  type HttpService,
} from '@gatehouse/service';
import { gatewayConcerns } from './config';
import type { SubgraphUrls } from './gateway';
import { createGatewayProtection } from './protection';
import { startGateway } from './server';
import { SUPERGRAPH_FILE, type SubgraphName } from './subgraphs';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

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
let billingProxy: { url: string; requests: IncomingHttpHeaders[]; close(): Promise<void> };
let gateway: HttpService;
let trustedGateway: HttpService;
let signer: AccessTokenSigner;
let manifestDir: string;

async function startRecordingProxy(target: string): Promise<typeof billingProxy> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/graphql')) requests.push(req.headers);
    const upstream = request(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

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
    },
    { kv: supergraph.kv, logger },
  );
  return startGateway({
    supergraphSdl: await readFile(SUPERGRAPH_FILE, 'utf8'),
    subgraphUrls: urls,
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
});

afterAll(async () => {
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
