import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Script } from 'node:vm';
import { loadConfig } from '@gatehouse/config';
import { createLogger } from '@gatehouse/logger';
import type { HttpService } from '@gatehouse/service';
import { TEST_SUBGRAPH_SECRET } from '@gatehouse/service/testing';
import { gatewayConcerns, playgroundEnabled, subgraphUrlsFrom } from './config';
import type { SubgraphUrls } from './gateway';
import { PLAYGROUND_CONTENT_SECURITY_POLICY } from './playground';
import { startGateway } from './server';
import { SUBGRAPHS, SUPERGRAPH_FILE, type SubgraphName } from './subgraphs';

/**
 * The gateway's own HTTP surface (health, playground, browser landing) with stand-in subgraphs that only answer
 * /health/ready. Queries through real subgraphs are in gateway.e2e.test.ts.
 */
process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';

const logger = createLogger({ name: 'gateway-test', level: 'silent' });

interface FakeSubgraph {
  server: Server;
  url: string;
  readyStatus: number;
}

async function startFakeSubgraph(): Promise<FakeSubgraph> {
  const fake = { readyStatus: 200 } as FakeSubgraph;
  fake.server = createServer((req, res) => {
    res.statusCode = req.url === '/health/ready' ? fake.readyStatus : 404;
    res.end();
  });
  await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}/graphql`;
  return fake;
}

let supergraphSdl: string;
const fakes = {} as Record<SubgraphName, FakeSubgraph>;
let subgraphUrls: SubgraphUrls;

beforeAll(async () => {
  supergraphSdl = await readFile(SUPERGRAPH_FILE, 'utf8');
  for (const { name } of SUBGRAPHS) fakes[name] = await startFakeSubgraph();
  subgraphUrls = Object.fromEntries(SUBGRAPHS.map(({ name }) => [name, fakes[name].url])) as SubgraphUrls;
});

afterAll(async () => {
  await Promise.all(Object.values(fakes).map((fake) => new Promise((resolve) => fake.server.close(resolve))));
});

function start(overrides: { production?: boolean; playground?: boolean } = {}): Promise<HttpService> {
  return startGateway({
    supergraphSdl,
    subgraphUrls,
    subgraphSecret: TEST_SUBGRAPH_SECRET,
    logger,
    production: overrides.production ?? false,
    playground: overrides.playground ?? true,
    host: '127.0.0.1',
    port: 0,
  });
}

describe('gateway HTTP service (development)', () => {
  let gateway: HttpService;

  beforeAll(async () => {
    gateway = await start();
  });

  afterAll(async () => {
    await gateway.stop();
  });

  afterEach(() => {
    for (const fake of Object.values(fakes)) fake.readyStatus = 200;
  });

  describe('health', () => {
    it('is live', async () => {
      const response = await fetch(`${gateway.url}/health/live`);

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });

    it('is ready when every subgraph is ready', async () => {
      const response = await fetch(`${gateway.url}/health/ready`);

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        status: 'ok',
        checks: {
          'subgraph:identity': 'ok',
          'subgraph:account': 'ok',
          'subgraph:access-control': 'ok',
          'subgraph:billing': 'ok',
        },
      });
    });

    it('is not ready while one subgraph is not ready, and says which', async () => {
      fakes.billing.readyStatus = 503;

      const response = await fetch(`${gateway.url}/health/ready`);

      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        status: 'unavailable',
        checks: { 'subgraph:billing': 'failed', 'subgraph:identity': 'ok' },
      });
    });
  });

  describe('playground', () => {
    it('serves an HTML page under a strict CSP whose scripts and styles all come from the gateway', async () => {
      const response = await fetch(`${gateway.url}/playground`);
      const html = await response.text();

      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toBe(PLAYGROUND_CONTENT_SECURITY_POLICY);
      expect(PLAYGROUND_CONTENT_SECURITY_POLICY).toContain("script-src 'self';");
      expect(html).not.toMatch(/https?:\/\//);
      // No inline script: every <script> has a src.
      expect(html.match(/<script\b[^>]*>/g)?.every((tag) => / src="/.test(tag))).toBe(true);

      const allReferences = [...html.matchAll(/<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"/g)].map(
        (m) => m[1]!,
      );
      // The empty data: icon only stops the browser asking for /favicon.ico; it loads nothing.
      expect(allReferences.filter((reference) => reference.startsWith('data:'))).toEqual(['data:,']);
      const references = allReferences.filter((reference) => !reference.startsWith('data:'));
      expect(references).toHaveLength(6);
      const expected: Record<string, RegExp> = {
        js: /^text\/javascript; charset=utf-8$/,
        css: /^text\/css; charset=utf-8$/,
      };
      for (const reference of references) {
        expect(reference).toMatch(/^\/playground\/assets\/[a-z-]+\.[0-9a-f]{16}\.[a-z.]+$/);
        const asset = await fetch(new URL(reference, gateway.url));
        const body = await asset.text();
        expect(asset.status).toBe(200);
        expect(asset.headers.get('content-type')).toMatch(expected[reference.split('.').pop()!]!);
        expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(body.length).toBeGreaterThan(0);
      }
    });

    it('bundles the pinned GraphiQL and React 18 builds and a bootstrap with a cross-subgraph query', async () => {
      const html = await (await fetch(`${gateway.url}/playground`)).text();
      const asset = async (name: string) => {
        const reference = new RegExp(`"(/playground/assets/${name}\\.[0-9a-f]{16}\\.[a-z.]*js)"`).exec(
          html,
        )?.[1];
        return (await fetch(new URL(reference!, gateway.url))).text();
      };

      expect(await asset('react')).toContain('18.3.1');
      expect(await asset('graphiql')).toContain('window.GraphiQL');
      const bootstrap = await asset('playground');
      expect(() => new Script(bootstrap)).not.toThrow();
      expect(bootstrap).toContain('isHeadersEditorEnabled: true');
      expect(bootstrap).toContain('roles');
    });

    it('runs subscriptions over graphql-ws on the WebSocket of /graphql, with the headers as connection params', async () => {
      const html = await (await fetch(`${gateway.url}/playground`)).text();
      const reference = /"(\/playground\/assets\/playground\.[0-9a-f]{16}\.js)"/.exec(html)![1]!;
      const bootstrap = await (await fetch(new URL(reference, gateway.url))).text();
      // The page's globals, recording what the script hands GraphiQL.
      const calls: { fetcherOptions?: Record<string, unknown>; props?: Record<string, unknown> } = {};
      const sent: unknown[] = [];
      const context = {
        URL,
        window: { location: { href: 'https://gatehouse.example/playground' } },
        document: { getElementById: () => ({}) },
        GraphiQL: {
          createFetcher: (options: Record<string, unknown>) => {
            calls.fetcherOptions = options;
            return (_params: unknown, fetcherOptions: unknown) => sent.push(fetcherOptions);
          },
        },
        React: { createElement: (_type: unknown, props: Record<string, unknown>) => (calls.props = props) },
        ReactDOM: { createRoot: () => ({ render: () => undefined }) },
      };
      new Script(bootstrap).runInNewContext(context);

      expect(calls.fetcherOptions).toEqual({
        url: 'https://gatehouse.example/graphql',
        subscriptionUrl: 'wss://gatehouse.example/graphql',
      });
      const fetcher = calls.props?.fetcher as (params: unknown, options: unknown) => void;
      fetcher({ query: 'subscription { sessionEvents { id } }' }, { headers: { Authorization: 'Bearer t' } });
      // The realtime server reads `authorization` from the connection params.
      expect(sent).toEqual([{ headers: { authorization: 'Bearer t' } }]);
      expect(calls.props?.defaultQuery).toContain('subscription SessionEvents');
    });

    it('gzips assets for clients that accept it and answers revalidation with 304', async () => {
      const html = await (await fetch(`${gateway.url}/playground`)).text();
      const reference = /"(\/playground\/assets\/graphiql\.[0-9a-f]{16}\.min\.js)"/.exec(html)![1]!;
      const url = new URL(reference, gateway.url);

      const gzipped = await fetch(url, { headers: { 'accept-encoding': 'gzip' } });
      await gzipped.arrayBuffer();
      const revalidated = await fetch(url, { headers: { 'if-none-match': gzipped.headers.get('etag')! } });

      expect(gzipped.headers.get('content-encoding')).toBe('gzip');
      expect(revalidated.status).toBe(304);
    });

    it('answers unknown assets with 404', async () => {
      const response = await fetch(
        `${gateway.url}/playground/assets/react.0000000000000000.production.min.js`,
      );

      expect(response.status).toBe(404);
    });

    it('sends browsers that open /graphql on to the playground', async () => {
      const response = await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html' } });

      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<meta http-equiv="refresh" content="0; url=/playground" />');
    });
  });

  describe('GraphQL endpoint', () => {
    it('answers introspection outside production', async () => {
      const response = await postGraphQL(gateway, '{ __schema { queryType { name } } }');

      expect(await response.json()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    });

    it('shows the realtime Subscription type in introspection', async () => {
      const response = await postGraphQL(
        gateway,
        `{
          __schema { subscriptionType { name fields { name type { ofType { name } } } } }
          __type(name: "SessionEvent") { fields { name } }
        }`,
      );
      const body = (await response.json()) as {
        data: {
          __schema: { subscriptionType: { name: string; fields: { name: string; type: unknown }[] } };
          __type: { fields: { name: string }[] };
        };
      };

      expect(body.data.__schema.subscriptionType.name).toBe('Subscription');
      expect(body.data.__schema.subscriptionType.fields).toEqual([
        { name: 'sessionEvents', type: { ofType: { name: 'SessionEvent' } } },
        { name: 'securityEvents', type: { ofType: { name: 'SecurityEvent' } } },
        { name: 'paymentEvents', type: { ofType: { name: 'PaymentEvent' } } },
        { name: 'auditEvents', type: { ofType: { name: 'AuditEvent' } } },
      ]);
      expect(body.data.__type.fields.map((field) => field.name)).toContain('sessionId');
    });

    it('answers a subscription over HTTP with 400 SUBSCRIPTION_OVER_HTTP naming the WebSocket endpoint', async () => {
      const query = 'query Plans { plans { code } }\nsubscription Sessions { sessionEvents { id } }';
      const post = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, operationName: 'Sessions' }),
      });
      const get = await fetch(
        `${gateway.url}/graphql?query=${encodeURIComponent('subscription { auditEvents { id } }')}`,
        { headers: { 'apollo-require-preflight': 'true' } },
      );

      for (const response of [post, get]) {
        expect(response.status).toBe(400);
        const body = (await response.json()) as { errors: { message: string; extensions: object }[] };
        expect(body.errors).toEqual([
          {
            message: expect.stringContaining('WebSocket to /graphql'),
            extensions: {
              code: 'SUBSCRIPTION_OVER_HTTP',
              details: { websocketPath: '/graphql', protocol: 'graphql-transport-ws' },
            },
          },
        ]);
      }
    });

    it('still executes the other operations of a document that holds a subscription', async () => {
      const query = 'query Me { __typename }\nsubscription Sessions { sessionEvents { id } }';
      const response = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, operationName: 'Me' }),
      });

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    });

    it('rejects simple (CSRF-able) requests', async () => {
      const response = await fetch(
        `${gateway.url}/graphql?query=${encodeURIComponent('{ plans { code } }')}`,
      );

      expect(response.status).toBe(400);
    });

    it('reports an unreachable subgraph as SERVICE_UNAVAILABLE without its address or a stack', async () => {
      const response = await postGraphQL(gateway, '{ plans { code } }');
      const body = (await response.json()) as { errors: { message: string; extensions: object }[] };

      // The stand-in subgraphs answer /graphql with 404.
      expect(body.errors).toEqual([
        {
          message: 'The billing service is unavailable',
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        },
      ]);
      expect(JSON.stringify(body)).not.toContain('127.0.0.1');
    });

    it('echoes the caller x-request-id', async () => {
      const response = await fetch(`${gateway.url}/health/live`, { headers: { 'x-request-id': 'abc-123' } });

      expect(response.headers.get('x-request-id')).toBe('abc-123');
    });
  });
});

describe('gateway HTTP service (production)', () => {
  it('serves no playground and no introspection by default', async () => {
    const gateway = await start({ production: true, playground: false });
    try {
      const playground = await fetch(`${gateway.url}/playground`);
      const introspection = await postGraphQL(gateway, '{ __schema { queryType { name } } }');
      const body = (await introspection.json()) as { errors?: { extensions: { code: string } }[] };

      expect(playground.status).toBe(404);
      expect(body.errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      // The refusal of subscriptions over HTTP does not depend on introspection.
      const subscription = await postGraphQL(gateway, 'subscription { sessionEvents { id } }');
      expect(subscription.status).toBe(400);
      expect(await subscription.json()).toMatchObject({
        errors: [{ extensions: { code: 'SUBSCRIPTION_OVER_HTTP' } }],
      });
    } finally {
      await gateway.stop();
    }
  });
});

describe('gateway configuration', () => {
  it('enables the playground outside production, and in production only when PLAYGROUND_ENABLED=true', () => {
    const enabled = (env: Record<string, string>) => {
      const config = loadConfig(gatewayConcerns, env);
      return playgroundEnabled(config.runtime.NODE_ENV === 'production', config.playground);
    };

    expect(enabled({})).toBe(true);
    expect(enabled({ PLAYGROUND_ENABLED: 'false' })).toBe(false);
    const production = { NODE_ENV: 'production', SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET };
    expect(enabled(production)).toBe(false);
    expect(enabled({ ...production, PLAYGROUND_ENABLED: 'true' })).toBe(true);
  });

  it('routes each subgraph to its configured URL', () => {
    const config = loadConfig(gatewayConcerns, {
      ACCESS_CONTROL_URL: 'http://access-control.internal:8080/graphql',
      BILLING_PORT: '5004',
    });

    expect(subgraphUrlsFrom(config.subgraphs)).toEqual({
      identity: 'http://127.0.0.1:4001/graphql',
      account: 'http://127.0.0.1:4002/graphql',
      'access-control': 'http://access-control.internal:8080/graphql',
      billing: 'http://127.0.0.1:5004/graphql',
    });
  });

  it('reports a bad PLAYGROUND_ENABLED together with other problems', () => {
    expect(() => loadConfig(gatewayConcerns, { PLAYGROUND_ENABLED: 'maybe', GATEWAY_PORT: 'x' })).toThrow(
      expect.objectContaining({
        issues: expect.arrayContaining([
          { variable: 'PLAYGROUND_ENABLED', message: 'must be true or false' },
          expect.objectContaining({ variable: 'GATEWAY_PORT' }),
        ]),
      }),
    );
  });
});

function postGraphQL(gateway: HttpService, query: string): Promise<Response> {
  return fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
}
