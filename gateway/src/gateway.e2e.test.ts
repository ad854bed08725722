import { type HttpService } from '@gatehouse/service';
import { postGraphQL } from '@gatehouse/service/testing';
import { PLAYGROUND_DEFAULT_QUERY } from './playground';
import type { SubgraphName } from './subgraphs';
import { startSupergraph, type Supergraph } from './supergraph.test-support';
import { startRecordingProxy, type RecordingProxy } from './testing/recording-proxy.test-support';

/**
 * The gateway in front of the four real subgraphs, each on its own port, over one migrated test schema in
 * PostgreSQL: what a client sees of the federated graph.
 */
let supergraph: Supergraph;
let subgraphs: Record<SubgraphName, HttpService>;
let identityProxy: RecordingProxy;
let gateway: HttpService;
let graphqlUrl: string;
const ids = { alice: '', bob: '' };

beforeAll(async () => {
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      const alice = await prisma.user.create({
        data: { email: 'alice@example.test', status: 'ACTIVE', emailVerified: true },
      });
      const bob = await prisma.user.create({
        data: { email: 'bob@example.test', status: 'ACTIVE', emailVerified: true },
      });
      ids.alice = alice.id;
      ids.bob = bob.id;
      await prisma.userProfile.create({ data: { userId: alice.id, displayName: 'Alice Liddell' } });
      const member = await prisma.role.create({ data: { name: 'member', description: 'Signed-up user' } });
      await prisma.userRole.create({ data: { userId: alice.id, roleId: member.id } });
      await prisma.subscriptionPlan.createMany({
        data: [
          { code: 'pro', name: 'Pro', priceAmount: 2900, currency: 'EUR', interval: 'MONTH' },
          { code: 'starter', name: 'Starter', priceAmount: 900, currency: 'EUR', interval: 'MONTH' },
          {
            code: 'retired',
            name: 'Retired',
            priceAmount: 500,
            currency: 'EUR',
            interval: 'MONTH',
            active: false,
          },
        ],
      });
    },
    // Identity is reached through a recording proxy, to see the headers the gateway sends to a subgraph.
    interpose: { identity: async (origin) => (identityProxy = await startRecordingProxy(origin)) },
  });
  ({ subgraphs, gateway, graphqlUrl } = supergraph);
});

afterAll(() => supergraph?.close());

const tokenFor = (userId: string, roles: string[] = ['member']) => supergraph.signer.sign({ userId, roles });

describe('federated queries through the gateway', () => {
  it('serves public data (billing) to anonymous callers', async () => {
    const { status, body } = await postGraphQL(
      graphqlUrl,
      '{ plans { code name price { amount currency } } }',
    );

    expect(status).toBe(200);
    expect(body).toEqual({
      data: {
        plans: [
          { code: 'starter', name: 'Starter', price: { amount: 900, currency: 'EUR' } },
          { code: 'pro', name: 'Pro', price: { amount: 2900, currency: 'EUR' } },
        ],
      },
    });
  });

  it('joins identity, account and access-control for the signed-in user, from PostgreSQL', async () => {
    const query = `query ($id: ID!) { user(id: $id) { email profile { displayName } roles { name } } }`;
    const token = await tokenFor(ids.alice);

    const first = await postGraphQL(graphqlUrl, query, { variables: { id: ids.alice }, token });
    // Profiles are read through a 5-minute cache that every write through the API invalidates.
    const updated = await postGraphQL(
      graphqlUrl,
      `mutation { updateProfile(input: { displayName: "Alice L." }) { fieldErrors { field } } }`,
      { token },
    );
    expect(updated.body).toEqual({ data: { updateProfile: { fieldErrors: [] } } });
    const second = await postGraphQL(graphqlUrl, query, { variables: { id: ids.alice }, token });

    expect(first.body).toEqual({
      data: {
        user: {
          email: 'alice@example.test',
          profile: { displayName: 'Alice Liddell' },
          roles: [{ name: 'member' }],
        },
      },
    });
    expect(second.body.data?.user).toMatchObject({ profile: { displayName: 'Alice L.' } });
  });

  it("runs both operations of the playground's default query", async () => {
    const run = async (operationName: string) => {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(ids.alice)}` },
        body: JSON.stringify({ query: PLAYGROUND_DEFAULT_QUERY, operationName }),
      });
      return response.json();
    };

    expect(await run('Plans')).toMatchObject({ data: { plans: [{ code: 'starter' }, { code: 'pro' }] } });
    expect(await run('Me')).toEqual({
      data: {
        me: {
          email: 'alice@example.test',
          profile: { displayName: expect.any(String) },
          roles: [{ name: 'member' }],
          subscription: null,
        },
      },
    });
  });

  it('forwards the Authorization header and the request id to subgraphs', async () => {
    identityProxy.requests.length = 0;
    const token = await tokenFor(ids.alice);

    const response = await postGraphQL(graphqlUrl, '{ me { email } }', {
      token,
      headers: { 'x-request-id': 'e2e-request-1' },
    });

    expect(response.body).toEqual({ data: { me: { email: 'alice@example.test' } } });
    expect(response.headers.get('x-request-id')).toBe('e2e-request-1');
    expect(identityProxy.requests).toHaveLength(1);
    expect(identityProxy.requests[0]).toMatchObject({
      authorization: `Bearer ${token}`,
      'x-request-id': 'e2e-request-1',
    });
  });

  it('forwards the client’s user agent and address, never a client-supplied X-Forwarded-For', async () => {
    identityProxy.requests.length = 0;

    await postGraphQL(graphqlUrl, '{ me { email } }', {
      headers: { 'user-agent': 'Mozilla/5.0 (e2e)', 'x-forwarded-for': '203.0.113.9' },
    });

    expect(identityProxy.requests[0]).toMatchObject({
      'user-agent': 'Mozilla/5.0 (e2e)',
      'x-forwarded-for': '127.0.0.1',
    });
  });

  it("issue #14: forwards identity's OAuth completion cookie to identity, and no other cookie", async () => {
    identityProxy.requests.length = 0;
    const binding = 'b'.repeat(43);

    await postGraphQL(graphqlUrl, '{ me { email } }', {
      headers: { cookie: `session=abc; gatehouse_oauth_result=${binding}; gh_csrf=x` },
    });
    await postGraphQL(graphqlUrl, '{ me { email } }', {
      headers: { cookie: 'session=abc; gatehouse_oauth_result=not-a-token' },
    });

    expect(identityProxy.requests[0]?.cookie).toBe(`gatehouse_oauth_result=${binding}`);
    expect(identityProxy.requests[1]?.cookie).toBeUndefined();
  });

  it('forwards the id it generated when the client sent none', async () => {
    identityProxy.requests.length = 0;

    const response = await postGraphQL(graphqlUrl, '{ me { email } }');

    const generated = response.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(identityProxy.requests[0]?.['x-request-id']).toBe(generated);
  });
});

describe('errors through the gateway', () => {
  it('refuses anonymous callers with UNAUTHENTICATED from the subgraph, without stack traces', async () => {
    const { body } = await postGraphQL(graphqlUrl, 'query ($id: ID!) { user(id: $id) { email } }', {
      variables: { id: ids.alice },
    });

    expect(body.data).toEqual({ user: null });
    expect(body.errors).toHaveLength(1);
    expect(body.errors?.[0]).toMatchObject({ path: ['user'], extensions: { code: 'UNAUTHENTICATED' } });
    expect(JSON.stringify(body)).not.toMatch(/stacktrace|exception|\n\s+at /);
  });

  it("keeps the subgraph's FORBIDDEN when one user reads another", async () => {
    const { body } = await postGraphQL(graphqlUrl, 'query ($id: ID!) { user(id: $id) { email } }', {
      variables: { id: ids.alice },
      token: await tokenFor(ids.bob),
    });

    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(JSON.stringify(body)).not.toMatch(/stacktrace|exception/);
  });

  it('answers an invalid token with 401 UNAUTHENTICATED and a Bearer challenge', async () => {
    const response = await postGraphQL(graphqlUrl, '{ me { email } }', { token: 'not.a.token' });

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(response.body.errors?.[0]).toMatchObject({
      message: 'Invalid or expired access token',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(JSON.stringify(response.body)).not.toMatch(/stacktrace|exception|response|127\.0\.0\.1/);
  });

  it('rejects invalid queries at the gateway with GRAPHQL_VALIDATION_FAILED (400 only for graphql-response+json)', async () => {
    const { status, body } = await postGraphQL(graphqlUrl, '{ plans { nope } }', {
      headers: { accept: 'application/graphql-response+json' },
    });
    // GraphQL over HTTP: an application/json answer says nothing through its status.
    const legacy = await postGraphQL(graphqlUrl, '{ plans { nope } }', {
      headers: { accept: 'application/json' },
    });

    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
    expect(legacy.status).toBe(200);
    expect(legacy.body.errors?.[0]?.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
  });
});

describe('health with real subgraphs', () => {
  it('is live and ready while every subgraph is ready', async () => {
    const live = await fetch(`${gateway.url}/health/live`);
    const ready = await fetch(`${gateway.url}/health/ready`);

    expect(live.status).toBe(200);
    expect(ready.status).toBe(200);
  });

  // Last: stops the billing subgraph.
  it('is not ready, and reports SERVICE_UNAVAILABLE, once a subgraph is down', async () => {
    await subgraphs.billing.stop();

    const ready = await fetch(`${gateway.url}/health/ready`);
    const { body } = await postGraphQL(graphqlUrl, '{ plans { code } }');

    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      checks: { 'subgraph:billing': 'failed', 'subgraph:identity': 'ok' },
    });
    expect(body.errors).toEqual([
      { message: 'The billing service is unavailable', extensions: { code: 'SERVICE_UNAVAILABLE' } },
    ]);
  });
});
