import { generateKeyPairSync } from 'node:crypto';
import { Agent, request } from 'node:http';
import { parse } from 'graphql';
import { createLogger } from '@gatehouse/logger';
import { createSubgraphApolloServer } from './apollo';
import { createAccessTokenSigner, createAccessTokenVerifier } from './auth';
import { buildBaseContext, type BaseContext } from './context';
import { sendJson, startHttpService, type HttpService } from './http-server';
import { createServiceMetrics, METRIC_NAMES } from './metrics';
import { parsePrometheusText, sampleValue } from './metrics.test-support';
import { allow, isAuthenticated, isSelfOrAdmin } from './rules';
import { setTraceHeaders } from './tracing';

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type User @key(fields: "id") {
    id: ID!
    secret: String!
  }
  type Query {
    hello: String!
    boom: String!
    me: User
    unlisted: String
  }
`);

interface TestUser {
  id: string;
}

const resolvers = {
  Query: {
    hello: () => 'world',
    boom: () => {
      throw new Error('connect ECONNREFUSED postgres://admin:hunter2@db/gatehouse');
    },
    me: (_: unknown, __: unknown, ctx: BaseContext): TestUser | null =>
      ctx.viewer ? { id: ctx.viewer.userId } : null,
    unlisted: () => 'should never be returned',
  },
  User: {
    __resolveReference: (ref: TestUser) => ({ id: ref.id }),
    secret: (user: TestUser) => `secret of ${user.id}`,
  },
};

const permissions = {
  Query: { hello: allow, boom: allow, me: isAuthenticated },
  User: { '*': isSelfOrAdmin },
};

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const auth = { issuer: 'http://issuer.test', audience: 'gatehouse' };
const signer = createAccessTokenSigner({ privateKeyPem: keys.privateKey, ...auth });
const verifier = createAccessTokenVerifier({ publicKeyPem: keys.publicKey, ...auth });
const logger = createLogger({ name: 'service-test', level: 'silent' });

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Minimal HTTP client that tolerates the server closing the connection mid-upload (413). */
function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** The server may answer (413) and close before the whole body is written. */
    expectEarlyClose?: boolean;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    // A fresh connection per request, so a test never reuses a socket another test left behind.
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      const earlyClose = error.code === 'EPIPE' || error.code === 'ECONNRESET';
      if (!(options.expectEarlyClose && earlyClose)) reject(error);
    });
    req.end(options.body);
  });
}

async function graphql(
  service: HttpService,
  query: string,
  options: { token?: string; variables?: Record<string, unknown> } = {},
) {
  const response = await send(`${service.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  return { status: response.status, headers: response.headers, json: JSON.parse(response.body) };
}

describe('startHttpService', () => {
  let service: HttpService;
  let dependencyHealthy = true;

  beforeAll(async () => {
    service = await startHttpService<BaseContext>({
      name: 'test',
      host: '127.0.0.1',
      port: 0,
      logger,
      maxBodyBytes: 64 * 1024,
      readinessTimeoutMs: 200,
      graphql: {
        server: createSubgraphApolloServer<BaseContext>({
          typeDefs,
          resolvers,
          permissions,
          logger,
          production: true,
        }),
        context: ({ req, requestId }) => buildBaseContext({ req, requestId, verifier, logger }),
      },
      readinessChecks: {
        database: async () => {
          if (!dependencyHealthy) throw new Error('password authentication failed for user "gatehouse"');
        },
        redis: async () => undefined,
      },
      routes: async (req, res) => {
        if (req.url !== '/custom') return false;
        res.end('custom');
        return true;
      },
    });
  });

  afterAll(async () => {
    await service.stop();
  });

  it('listens on the port the OS picked', () => {
    expect(service.port).toBeGreaterThan(0);
    expect(service.url).toBe(`http://127.0.0.1:${service.port}`);
  });

  it('answers the liveness probe', async () => {
    const response = await send(`${service.url}/health/live`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ status: 'ok' });
  });

  it('reports readiness per check, without leaking why a check failed', async () => {
    const ready = await send(`${service.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });

    dependencyHealthy = false;
    try {
      const notReady = await send(`${service.url}/health/ready`);
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.body)).toEqual({
        status: 'unavailable',
        checks: { database: 'failed', redis: 'ok' },
      });
      expect(notReady.body).not.toMatch(/password|gatehouse/);
    } finally {
      dependencyHealthy = true;
    }
  });

  it('echoes a safe x-request-id and replaces an unsafe one', async () => {
    const echoed = await send(`${service.url}/health/live`, { headers: { 'x-request-id': 'req-123.abc' } });
    expect(echoed.headers['x-request-id']).toBe('req-123.abc');
    const replaced = await send(`${service.url}/health/live`, {
      headers: { 'x-request-id': 'bad id <script>' },
    });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const generated = await send(`${service.url}/nope`);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with a JSON 404 and serves extra routes', async () => {
    const missing = await send(`${service.url}/nope`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ error: 'Not found' });
    expect((await send(`${service.url}/custom`)).body).toBe('custom');
  });

  it('rejects bodies over the limit with 413, with or without a content-length', async () => {
    const big = JSON.stringify({ query: `{ hello }`, padding: 'x'.repeat(100 * 1024) });
    const declared = await send(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
      expectEarlyClose: true,
    });
    expect(declared.status).toBe(413);

    const chunked = await send(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: big,
      expectEarlyClose: true,
    });
    expect(chunked.status).toBe(413);
  });

  it('rejects malformed JSON with 400', async () => {
    const response = await send(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(response.status).toBe(400);
  });

  it('executes GraphQL over POST and GET', async () => {
    const post = await graphql(service, '{ hello }');
    expect(post.status).toBe(200);
    expect(post.json).toEqual({ data: { hello: 'world' } });

    const get = await send(`${service.url}/graphql?query=${encodeURIComponent('{ hello }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body)).toEqual({ data: { hello: 'world' } });
  });

  it('blocks simple GET requests without a preflight header (CSRF prevention)', async () => {
    const get = await send(`${service.url}/graphql?query=${encodeURIComponent('{ hello }')}`);
    expect(get.status).toBe(400);
  });

  it('masks unknown errors as INTERNAL_SERVER_ERROR without a stack trace', async () => {
    const { json } = await graphql(service, '{ boom }');
    expect(json.errors).toEqual([
      {
        message: 'Internal server error',
        locations: expect.any(Array),
        path: ['boom'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
    expect(JSON.stringify(json)).not.toMatch(/hunter2|ECONNREFUSED|stacktrace/);
  });

  it('denies fields without a permission rule', async () => {
    const { json } = await graphql(service, '{ unlisted }');
    expect(json.data).toEqual({ unlisted: null });
    expect(json.errors[0].extensions).toEqual({ code: 'FORBIDDEN' });
  });

  it('tells anonymous callers to authenticate', async () => {
    const { json } = await graphql(service, '{ me { id } }');
    expect(json.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });

  it('answers an invalid token with 401 UNAUTHENTICATED', async () => {
    const expired = await signer.sign(
      { userId: 'u1', roles: [] },
      { issuedAt: new Date(Date.now() - 86_400_000) },
    );
    const response = await graphql(service, '{ hello }', { token: expired });
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(response.json.errors).toEqual([
      { message: 'Invalid or expired access token', extensions: { code: 'UNAUTHENTICATED' } },
    ]);
  });

  it('serves the viewer their own data', async () => {
    const token = await signer.sign({ userId: 'u1', roles: [] });
    const { json } = await graphql(service, '{ me { id secret } }', { token });
    expect(json).toEqual({ data: { me: { id: 'u1', secret: 'secret of u1' } } });
  });

  describe('federation under shield', () => {
    const entities = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id secret } } }`;
    const reps = [
      { __typename: 'User', id: 'u1' },
      { __typename: 'User', id: 'u2' },
    ];

    it('serves _service.sdl to the gateway', async () => {
      const { json } = await graphql(service, '{ _service { sdl } }');
      expect(json.data._service.sdl).toContain('type User');
    });

    it('resolves entities, and still applies the field rules to them', async () => {
      const token = await signer.sign({ userId: 'u1', roles: [] });
      const { json } = await graphql(service, entities, { token, variables: { reps } });
      expect(json.data._entities[0]).toEqual({ id: 'u1', secret: 'secret of u1' });
      expect(json.data._entities[1]).toBeNull();
      expect(json.errors.map((e: { extensions: unknown }) => e.extensions)).toEqual([{ code: 'FORBIDDEN' }]);
    });

    // Issue #14: administrators are who holds `users:write` (live where the app reads live permissions; here the
    // signed claim), never who carries the `admin` role claim.
    it('lets administrators read any user', async () => {
      const roleClaimOnly = await signer.sign({ userId: 'admin-1', roles: ['admin'] });
      const refused = await graphql(service, entities, { token: roleClaimOnly, variables: { reps } });
      expect(refused.json.data._entities).toEqual([null, null]);
      const token = await signer.sign({ userId: 'admin-1', roles: ['admin'], permissions: ['users:write'] });
      const { json } = await graphql(service, entities, { token, variables: { reps } });
      expect(json).toEqual({
        data: {
          _entities: [
            { id: 'u1', secret: 'secret of u1' },
            { id: 'u2', secret: 'secret of u2' },
          ],
        },
      });
    });
  });
});

describe('stop()', () => {
  it('closes idle keep-alive connections without waiting for the grace period, and is idempotent', async () => {
    const service = await startHttpService({
      name: 'stop-test',
      host: '127.0.0.1',
      port: 0,
      logger,
      readinessChecks: {},
      shutdownGraceMs: 30_000,
    });
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve) =>
      request(`${service.url}/health/live`, { agent }, (res) => res.resume().on('end', resolve)).end(),
    );
    const started = Date.now();
    await Promise.all([service.stop(), service.stop()]);
    expect(Date.now() - started).toBeLessThan(5000);
    agent.destroy();
    await expect(send(`${service.url}/health/live`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('cuts connections that are still busy when the grace period ends', async () => {
    let release: () => void = () => undefined;
    const service = await startHttpService({
      name: 'stop-test',
      host: '127.0.0.1',
      port: 0,
      logger,
      readinessChecks: {},
      shutdownGraceMs: 100,
      routes: async () => {
        await new Promise<void>((resolve) => (release = resolve));
        return false;
      },
    });
    const pending = send(`${service.url}/slow`).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await service.stop();
    await expect(pending).resolves.toMatchObject({ code: 'ECONNRESET' });
    release();
  });
});

describe('observability', () => {
  const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
  const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
  const PARENT_SPAN_ID = '00f067aa0ba902b7';
  const lines: string[] = [];
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const capturing = createLogger({ name: 'obs-test', destination: { write: (line) => lines.push(line) } });
  let service: HttpService;
  let downstream: HttpService;

  beforeAll(async () => {
    downstream = await startHttpService({
      name: 'downstream',
      host: '127.0.0.1',
      port: 0,
      logger,
      readinessChecks: {},
      metricsEndpoint: { enabled: false },
    });
    service = await startHttpService<BaseContext>({
      name: 'obs-test',
      host: '127.0.0.1',
      port: 0,
      logger: capturing,
      metrics: createServiceMetrics({ service: 'obs-test', logger: capturing }),
      metricsEndpoint: { enabled: true, token: METRICS_TOKEN },
      graphql: {
        server: createSubgraphApolloServer<BaseContext>({
          typeDefs,
          resolvers,
          permissions,
          logger: capturing,
          production: true,
        }),
        context: ({ req, requestId }) => buildBaseContext({ req, requestId, verifier, logger: capturing }),
      },
      readinessChecks: {},
      // Calls another service on the request's behalf, as the gateway calls subgraphs.
      routes: async (req, res) => {
        if (req.url !== '/call-downstream') return false;
        const headers = new Headers();
        setTraceHeaders(headers);
        const answer = await fetch(`${downstream.url}/health/live`, { headers });
        sendJson(res, 200, {
          sent: headers.get('traceparent'),
          downstreamTraceId: answer.headers.get('x-trace-id'),
        });
        return true;
      },
    });
  });

  afterAll(async () => {
    await service.stop();
    await downstream.stop();
  });

  async function scrape(token: string | null = METRICS_TOKEN) {
    return send(`${service.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  }

  it('counts requests, GraphQL operations and errors by code, and serves them on /metrics', async () => {
    const named = JSON.stringify({ query: 'query Hello { hello }', operationName: 'Hello' });
    const post = (body: string) =>
      send(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    await post(named);
    await post(named);
    await post(JSON.stringify({ query: '{ boom }' }));
    await post(JSON.stringify({ query: 'query Hidden { unlisted }' }));
    await send(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token' },
      body: named,
    });
    await send(`${service.url}/no/such/path-${Date.now()}`);

    const response = await scrape();
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const samples = parsePrometheusText(response.body);
    const service_ = { service: 'obs-test' };
    expect(
      sampleValue(samples, METRIC_NAMES.httpRequests, {
        ...service_,
        method: 'POST',
        route: '/graphql',
        status_code: '200',
      }),
    ).toBe(4);
    expect(
      sampleValue(samples, METRIC_NAMES.httpRequests, {
        method: 'POST',
        route: '/graphql',
        status_code: '401',
      }),
    ).toBe(1);
    // Never the raw path: clients choose paths.
    expect(sampleValue(samples, METRIC_NAMES.httpRequests, { route: 'unmatched', status_code: '404' })).toBe(
      1,
    );
    expect(samples.some((s) => s.labels.route?.startsWith('/no'))).toBe(false);
    expect(
      sampleValue(samples, `${METRIC_NAMES.httpRequestDuration}_count`, {
        method: 'POST',
        route: '/graphql',
        status_code: '200',
      }),
    ).toBe(4);
    expect(
      sampleValue(samples, METRIC_NAMES.graphqlOperations, {
        operation_name: 'Hello',
        operation_type: 'query',
        outcome: 'success',
      }),
    ).toBe(2);
    expect(
      sampleValue(samples, METRIC_NAMES.graphqlOperations, { operation_name: 'anonymous', outcome: 'error' }),
    ).toBe(1);
    expect(
      sampleValue(samples, METRIC_NAMES.graphqlErrors, {
        operation_name: 'anonymous',
        code: 'INTERNAL_SERVER_ERROR',
      }),
    ).toBe(1);
    expect(
      sampleValue(samples, METRIC_NAMES.graphqlErrors, { operation_name: 'Hidden', code: 'FORBIDDEN' }),
    ).toBe(1);
    // A token refused while building the context never reaches the operation.
    expect(
      sampleValue(samples, METRIC_NAMES.graphqlErrors, {
        operation_name: 'unknown',
        code: 'UNAUTHENTICATED',
      }),
    ).toBe(1);
    expect(sampleValue(samples, 'process_resident_memory_bytes', service_)).toBeGreaterThan(0);
  });

  it('serves /metrics only with the bearer token', async () => {
    const missing = await scrape(null);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(missing.body).not.toContain('gatehouse_');
    const wrong = await scrape(`${METRICS_TOKEN.slice(0, -1)}x`);
    expect(wrong.status).toBe(401);
    const post = await send(`${service.url}/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(post.status).toBe(405);
    expect((await scrape()).status).toBe(200);
  });

  it('does not serve /metrics when disabled', async () => {
    const response = await send(`${downstream.url}/metrics`);
    expect(response.status).toBe(404);
  });

  it('continues an incoming traceparent: response headers, every log line, error responses', async () => {
    lines.length = 0;
    const response = await send(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` },
      body: JSON.stringify({ query: '{ boom }' }),
    });
    expect(response.headers['x-trace-id']).toBe(TRACE_ID);
    const traceresponse = String(response.headers.traceresponse);
    expect(traceresponse).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    const spanId = traceresponse.split('-')[2];
    expect(spanId).not.toBe(PARENT_SPAN_ID);

    const body = JSON.parse(response.body);
    expect(body.extensions).toEqual({ traceId: TRACE_ID });
    expect(body.errors[0].extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    // The error formatter logs with the service's root logger, not a request logger: the line still says which
    // trace it belongs to.
    const logged = logs().find((line) => line.msg === 'Unexpected error while executing a GraphQL operation');
    expect(logged).toMatchObject({ traceId: TRACE_ID, spanId });
  });

  it('starts a trace when there is none, and replaces an invalid one', async () => {
    const fresh = await send(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token' },
      body: JSON.stringify({ query: '{ hello }' }),
    });
    const generated = fresh.headers['x-trace-id'];
    expect(generated).toMatch(/^[0-9a-f]{32}$/);
    // A 401 from the context is answered outside Apollo's request pipeline; it carries the id too.
    expect(fresh.status).toBe(401);
    expect(JSON.parse(fresh.body).extensions).toEqual({ traceId: generated });

    const invalid = await send(`${service.url}/health/live`, {
      headers: { traceparent: `00-${'0'.repeat(32)}-${PARENT_SPAN_ID}-01` },
    });
    expect(invalid.headers['x-trace-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(invalid.headers['x-trace-id']).not.toBe('0'.repeat(32));
    expect(invalid.headers['x-trace-id']).not.toBe(generated);
  });

  it('leaves successful responses as they are', async () => {
    const { json } = await graphql(service, '{ hello }');
    expect(json).toEqual({ data: { hello: 'world' } });
  });

  it('propagates the trace to downstream services with setTraceHeaders', async () => {
    const response = await send(`${service.url}/call-downstream`, {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` },
    });
    const body = JSON.parse(response.body);
    const ownSpan = String(response.headers.traceresponse).split('-')[2];
    // This service's span is the downstream request's parent, and the downstream service continues the trace.
    expect(body.sent).toBe(`00-${TRACE_ID}-${ownSpan}-01`);
    expect(body.downstreamTraceId).toBe(TRACE_ID);
  });
});
