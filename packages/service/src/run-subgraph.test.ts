import { createServer } from 'node:http';
import { parse } from 'graphql';
import { MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { allow } from './rules';
import { startSubgraph, type StartSubgraphOptions } from './run-subgraph';
import { createSubgraphApp } from './subgraph-app';
import type { BaseContext } from './context';
import { createTestAuth, postGraphQL, TEST_SUBGRAPH_SECRET } from './testing.test-support';

/** A minimal subgraph built with the kit; it answers with the verified viewer, which shows the wiring. */
const createApp: StartSubgraphOptions<BaseContext>['createApp'] = (deps) =>
  createSubgraphApp({
    typeDefs: parse('type Query { viewerId: ID }'),
    resolvers: {
      Query: { viewerId: (_: unknown, __: unknown, context: BaseContext) => context.viewer?.userId ?? null },
    },
    permissions: { Query: { viewerId: allow } },
    deps,
    contextFor: (base) => base,
  });

async function freePort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return String(port);
}

function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set (jest.global-setup.ts provides it)');
  return url;
}

const USER_ID = '6f1c1f0e-8a44-4c43-9d3e-2a8f0d6b1e55';

describe('startSubgraph', () => {
  it('serves GraphQL on <PREFIX>_PORT, trusts tokens signed for JWT_PUBLIC_KEY and probes the database', async () => {
    const auth = createTestAuth();
    const port = await freePort();
    const running = await startSubgraph({
      name: 'access-control',
      envPrefix: 'ACCESS_CONTROL',
      createApp,
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ACCESS_CONTROL_PORT: port,
        JWT_PUBLIC_KEY: auth.publicKeyPem,
        SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET,
        LOG_LEVEL: 'silent',
      },
    });
    try {
      expect(running.url).toBe(`http://127.0.0.1:${port}/graphql`);
      const { body } = await postGraphQL(running.url, '{ viewerId }', {
        token: await auth.tokenFor(USER_ID),
      });
      expect(body).toEqual({ data: { viewerId: USER_ID } });
      const ready = await fetch(running.url.replace(/\/graphql$/, '/health/ready'));
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok' } });
    } finally {
      await running.stop();
    }
  });

  // Issue #14: a subgraph reached directly (past the gateway) must not answer GraphQL, `_service` or `/metrics`.
  it('answers only requests carrying SUBGRAPH_SECRET, except its health probes', async () => {
    const running = await startSubgraph({
      name: 'identity',
      envPrefix: 'IDENTITY',
      createApp,
      env: {
        DATABASE_URL: testDatabaseUrl(),
        IDENTITY_PORT: await freePort(),
        SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET,
        LOG_LEVEL: 'silent',
      },
    });
    try {
      const origin = running.url.replace(/\/graphql$/, '');
      const direct = await fetch(running.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ _service { sdl } }' }),
      });
      expect(direct.status).toBe(403);
      expect(await direct.json()).toMatchObject({ error: 'SUBGRAPH_SECRET_REQUIRED' });
      expect((await fetch(`${origin}/metrics`)).status).toBe(403);
      expect((await fetch(`${origin}/health/live`)).status).toBe(200);
      const fromGateway = await postGraphQL<{ _service: { sdl: string } }>(
        running.url,
        '{ _service { sdl } }',
      );
      expect(fromGateway.body.data?._service.sdl).toContain('viewerId');
    } finally {
      await running.stop();
    }
  });

  it('without JWT_PUBLIC_KEY serves anonymous requests and refuses every token', async () => {
    const running = await startSubgraph({
      name: 'billing',
      envPrefix: 'BILLING',
      createApp,
      env: {
        DATABASE_URL: testDatabaseUrl(),
        BILLING_PORT: await freePort(),
        SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET,
        LOG_LEVEL: 'silent',
      },
    });
    try {
      expect((await postGraphQL(running.url, '{ viewerId }')).body).toEqual({ data: { viewerId: null } });
      const withToken = await postGraphQL(running.url, '{ viewerId }', {
        token: await createTestAuth().tokenFor(USER_ID),
      });
      expect(withToken.status).toBe(401);
      expect(withToken.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
    } finally {
      await running.stop();
    }
  });

  it('hands a shared store to the app and leaves it open on stop (one store for every service of a process)', async () => {
    const shared = new MemoryKeyValueStore();
    let seen: KeyValueStore | undefined;
    const running = await startSubgraph({
      name: 'account',
      envPrefix: 'ACCOUNT',
      createApp: (deps) => {
        seen = deps.kv;
        return createApp(deps);
      },
      env: {
        DATABASE_URL: testDatabaseUrl(),
        ACCOUNT_PORT: await freePort(),
        SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET,
        LOG_LEVEL: 'silent',
      },
      kv: shared,
    });
    await running.stop();
    expect(seen).toBe(shared);
    await shared.set('still-open', '1');
    expect(await shared.get('still-open')).toBe('1');
    await shared.close();
  });

  it('refuses to start without DATABASE_URL', async () => {
    await expect(
      startSubgraph({ name: 'identity', envPrefix: 'IDENTITY', createApp, env: { LOG_LEVEL: 'silent' } }),
    ).rejects.toThrow(/DATABASE_URL is not set/);
  });
});
