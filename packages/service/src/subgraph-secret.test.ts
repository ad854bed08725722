// Issue #14: subgraphs answer the gateway only (SUBGRAPH_SECRET), and believe X-Forwarded-For from it alone.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'graphql';
import { ConfigError, concerns, loadConfig } from '@gatehouse/config';
import { createLogger } from '@gatehouse/logger';
import { createSubgraphApolloServer } from './apollo';
import { clientInfoFrom } from './client-info';
import { buildBaseContext, type BaseContext } from './context';
import { sendJson, startHttpService, type HttpService } from './http-server';
import { allow } from './rules';
import {
  resolveSubgraphSecret,
  secretMatches,
  SUBGRAPH_SECRET_HEADER,
  SUBGRAPH_SECRET_REQUIRED,
} from './subgraph-secret';

const SECRET = 'subgraph-secret-for-this-test-0123456789';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const logger = createLogger({ name: 'subgraph-secret-test', level: 'silent' });
const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type Query { hello: String! }
`);

function graphql() {
  return {
    server: createSubgraphApolloServer<BaseContext>({
      typeDefs,
      resolvers: { Query: { hello: () => 'world' } },
      permissions: { Query: { hello: allow } },
      logger,
      production: true,
    }),
    context: ({ req, requestId }: { req: IncomingMessage; requestId: string }) =>
      buildBaseContext({ req, requestId, verifier: null, logger }),
  };
}

/** A service with GraphQL, a route that reports the client address it sees, and `/metrics` behind a token. */
function startService(subgraphSecret?: string): Promise<HttpService> {
  return startHttpService({
    name: 'secret-test',
    host: '127.0.0.1',
    port: 0,
    logger,
    graphql: graphql(),
    readinessChecks: {},
    metricsEndpoint: { enabled: true, token: METRICS_TOKEN },
    ...(subgraphSecret ? { subgraphSecret } : {}),
    routes: async (req, res, requestId) => {
      if (!req.url?.startsWith('/whoami')) return false;
      sendJson(res, 200, { ip: clientInfoFrom(req, requestId).ip });
      return true;
    },
  });
}

const query = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: '{ hello _service { sdl } }' }),
  });

describe('a service with SUBGRAPH_SECRET', () => {
  let service: HttpService;
  beforeAll(async () => {
    service = await startService(SECRET);
  });
  afterAll(() => service.stop());

  it('refuses GraphQL (so `_service { sdl }` too) without the secret or with a wrong one: 403 SUBGRAPH_SECRET_REQUIRED', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { [SUBGRAPH_SECRET_HEADER]: `${SECRET}x` },
      { [SUBGRAPH_SECRET_HEADER]: '' },
    ];
    for (const headers of attempts) {
      const response = await query(service.url, headers);
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({
        error: SUBGRAPH_SECRET_REQUIRED,
        message: expect.any(String),
      });
    }
  });

  it('answers GraphQL, `_service` included, with the secret', async () => {
    const response = await query(service.url, { [SUBGRAPH_SECRET_HEADER]: SECRET });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { hello: string; _service: { sdl: string } } };
    expect(body.data.hello).toBe('world');
    expect(body.data._service.sdl).toContain('hello');
  });

  it('refuses the plain routes without the secret', async () => {
    const response = await fetch(`${service.url}/whoami`);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: SUBGRAPH_SECRET_REQUIRED });
  });

  it('serves /metrics to the metrics token or the secret, to nobody else', async () => {
    expect((await fetch(`${service.url}/metrics`)).status).toBe(401);
    const withToken = await fetch(`${service.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(withToken.status).toBe(200);
    const withSecret = await fetch(`${service.url}/metrics`, {
      headers: { [SUBGRAPH_SECRET_HEADER]: SECRET },
    });
    expect(withSecret.status).toBe(200);
    expect(await withSecret.text()).toContain('# TYPE');
  });

  it('keeps the health probes open for the orchestrator', async () => {
    expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
    expect((await fetch(`${service.url}/health/ready`)).status).toBe(200);
  });

  it("believes X-Forwarded-For from the gateway (the secret's holder)", async () => {
    const response = await fetch(`${service.url}/whoami`, {
      headers: { [SUBGRAPH_SECRET_HEADER]: SECRET, 'x-forwarded-for': '203.0.113.7' },
    });
    expect(await response.json()).toEqual({ ip: '203.0.113.7' });
  });
});

describe('X-Forwarded-For from a caller without the secret', () => {
  let service: HttpService;
  beforeAll(async () => {
    service = await startService();
  });
  afterAll(() => service.stop());

  it('is ignored: the socket address is the client', async () => {
    const response = await fetch(`${service.url}/whoami`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(await response.json()).toEqual({ ip: '127.0.0.1' });
  });
});

describe('SUBGRAPH_SECRET configuration', () => {
  it('is required in production and must be long', () => {
    const load = (env: Record<string, string>) => loadConfig({ secret: concerns.subgraphSecret }, env);
    expect(() => load({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => load({ NODE_ENV: 'production' })).toThrow(/SUBGRAPH_SECRET/);
    expect(() => load({ SUBGRAPH_SECRET: 'short' })).toThrow(/SUBGRAPH_SECRET/);
    expect(load({ NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET }).secret).toEqual({
      SUBGRAPH_SECRET: SECRET,
    });
    expect(load({}).secret).toEqual({});
  });

  it('outside production, unset, is one development secret per install (created once, private)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-secret-'));
    try {
      const keyDir = path.join(dir, 'keys');
      const file = path.join(keyDir, 'subgraph-secret');
      const first = resolveSubgraphSecret(undefined, { production: false, keyDir });
      expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(resolveSubgraphSecret(undefined, { production: false, keyDir })).toBe(first);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(resolveSubgraphSecret(SECRET, { production: false, keyDir })).toBe(SECRET);
      expect(() => resolveSubgraphSecret(undefined, { production: true, keyDir })).toThrow(/SUBGRAPH_SECRET/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is compared whole', () => {
    expect(secretMatches(SECRET, SECRET)).toBe(true);
    expect(secretMatches(SECRET.slice(0, -1), SECRET)).toBe(false);
    expect(secretMatches(undefined, SECRET)).toBe(false);
  });
});
