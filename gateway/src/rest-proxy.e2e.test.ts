// Issue #14: the REST proxy cannot be walked out of its prefixes, and the subgraphs answer the gateway only.
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { SUBGRAPH_SECRET_HEADER, type HttpService } from '@gatehouse/service';
import { TEST_SUBGRAPH_SECRET, postGraphQL } from '@gatehouse/service/testing';
import { createSlidingWindowLimiter } from './protection/sliding-window';
import { startGateway } from './server';
import { startRecordingProxy, type RecordingProxy } from './testing/recording-proxy.test-support';
import { SUPERGRAPH_FILE, type SubgraphName } from './subgraphs';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

/** A raw HTTP request: `path` goes on the wire exactly as written (fetch would resolve dot segments first). */
function rawRequest(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const SDL_QUERY = `?query=${encodeURIComponent('{ _service { sdl } }')}`;

/** The audit's paths and their encoded variants: each would reach a subgraph's `/metrics` or `/graphql`. */
const ESCAPES = [
  '/files/%2e%2e/metrics',
  '/files/%2E%2E/metrics',
  '/files/.%2e/metrics',
  '/files/%2e./metrics',
  '/files/public/%2e%2e/%2e%2e/metrics',
  '/files/..%2fmetrics',
  '/files/..%2Fmetrics',
  '/files/%2e%2e%2fmetrics',
  '/files/..%5cmetrics',
  '/files/..\\metrics',
  '/files/%252e%252e/metrics',
  '/files/public/../../metrics',
  '/files/./../metrics',
  '/files//metrics',
  `/auth/oauth/../../graphql${SDL_QUERY}`,
  `/auth/oauth/%2e%2e/%2e%2e/graphql${SDL_QUERY}`,
  `/auth/oauth/github/..%2f..%2f..%2fgraphql${SDL_QUERY}`,
  `/auth/oauth/%2E%2E/%2E%2E/metrics`,
  '/unsubscribe/../metrics',
  '/account/avatar/%2e%2e/%2e%2e/metrics',
  '/webhooks/stripe/..',
  '/files/%zz',
  '/files/%c0%ae%c0%ae/metrics',
];

const logger = createLogger({ name: 'rest-proxy-e2e', level: 'silent' });
const proxies = {} as Record<SubgraphName, RecordingProxy>;
let supergraph: Supergraph;
/** A second gateway with the REST rate limit on (as main() runs it): the limiter matches on its own. */
let limitedGateway: HttpService;
const kv = new MemoryKeyValueStore();

const recorded = () => Object.values(proxies).flatMap((proxy) => proxy.all);
const clearRecorded = () => {
  for (const proxy of Object.values(proxies)) proxy.all.length = 0;
};

beforeAll(async () => {
  const interpose = (name: SubgraphName) => async (origin: string) =>
    (proxies[name] = await startRecordingProxy(origin));
  supergraph = await startSupergraph({
    interpose: {
      identity: interpose('identity'),
      account: interpose('account'),
      'access-control': interpose('access-control'),
      billing: interpose('billing'),
    },
  });
  limitedGateway = await startGateway({
    supergraphSdl: await readFile(SUPERGRAPH_FILE, 'utf8'),
    subgraphUrls: Object.fromEntries(
      Object.entries(proxies).map(([name, proxy]) => [name, `${proxy.url}/graphql`]),
    ) as Record<SubgraphName, string>,
    subgraphSecret: TEST_SUBGRAPH_SECRET,
    logger,
    production: false,
    playground: false,
    host: '127.0.0.1',
    port: 0,
    protection: {
      restRateLimit: { limiter: createSlidingWindowLimiter({ kv }), perIp: 10_000, windowSeconds: 60 },
    },
  });
});

afterAll(async () => {
  await limitedGateway?.stop();
  await supergraph?.close();
  await kv.close();
});

describe('REST proxy path rules', () => {
  it.each(ESCAPES)('refuses %s with 400 INVALID_PATH and never reaches a subgraph', async (path) => {
    for (const gateway of [supergraph.gateway, limitedGateway]) {
      clearRecorded();
      const response = await rawRequest(gateway.url, path, { 'content-type': 'application/json' });
      expect({ path, status: response.status, body: response.body }).toEqual({
        path,
        status: 400,
        body: JSON.stringify({ error: 'INVALID_PATH' }),
      });
      expect(recorded()).toEqual([]);
    }
  });

  it('forwards a well-formed path as matched, with the secret and the client address, never the client’s own', async () => {
    clearRecorded();
    const response = await rawRequest(supergraph.gateway.url, '/files/public/avatars/missing.webp', {
      [SUBGRAPH_SECRET_HEADER]: 'forged-by-the-client',
      'x-forwarded-for': '203.0.113.9',
    });
    // Account's file route answered: the request got through the secret check.
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body)).toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    expect(proxies.account.all).toEqual([
      expect.objectContaining({
        url: '/files/public/avatars/missing.webp',
        headers: expect.objectContaining({
          [SUBGRAPH_SECRET_HEADER]: TEST_SUBGRAPH_SECRET,
          'x-forwarded-for': '127.0.0.1',
        }),
      }),
    ]);
  });

  it('sends the secret with every GraphQL subgraph request, replacing a client’s own', async () => {
    clearRecorded();
    const { body } = await postGraphQL(supergraph.graphqlUrl, '{ plans { code } }', {
      headers: { [SUBGRAPH_SECRET_HEADER]: 'forged-by-the-client' },
    });
    expect(body.errors).toBeUndefined();
    expect(proxies.billing.all.map((r) => r.headers[SUBGRAPH_SECRET_HEADER])).toEqual([TEST_SUBGRAPH_SECRET]);
  });
});

describe('a subgraph reached directly, past the gateway', () => {
  const direct = (name: SubgraphName) => supergraph.subgraphs[name].url;

  it.each(['identity', 'account', 'access-control', 'billing'] as const)(
    '%s refuses GraphQL, `_service { sdl }` and /metrics without the secret (403 SUBGRAPH_SECRET_REQUIRED)',
    async (name) => {
      const graphql = await fetch(`${direct(name)}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.1' },
        body: JSON.stringify({ query: '{ _service { sdl } }' }),
      });
      expect(graphql.status).toBe(403);
      expect(await graphql.json()).toMatchObject({ error: 'SUBGRAPH_SECRET_REQUIRED' });
      const sdlByGet = await fetch(`${direct(name)}/graphql${SDL_QUERY}`, {
        headers: { 'apollo-require-preflight': 'true' },
      });
      expect(sdlByGet.status).toBe(403);
      const metrics = await fetch(`${direct(name)}/metrics`);
      expect(metrics.status).toBe(403);
      expect((await fetch(`${direct(name)}/health/ready`)).status).toBe(200);
    },
  );

  it.each(['identity', 'account', 'access-control', 'billing'] as const)(
    '%s answers GraphQL, `_service` and /metrics with the secret',
    async (name) => {
      const headers = { [SUBGRAPH_SECRET_HEADER]: TEST_SUBGRAPH_SECRET };
      const sdl = await fetch(`${direct(name)}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: '{ _service { sdl } }' }),
      });
      expect(sdl.status).toBe(200);
      expect(((await sdl.json()) as { data: { _service: { sdl: string } } }).data._service.sdl).toContain(
        'type Query',
      );
      expect((await fetch(`${direct(name)}/metrics`, { headers })).status).toBe(200);
    },
  );
});
