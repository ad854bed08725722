import { createTestDatabase, recordSqlStatements, type TestDatabase } from '@gatehouse/testing';
import {
  createTestAuth,
  postGraphQL,
  startTestSubgraph,
  type TestSubgraph,
} from '@gatehouse/service/testing';
import { createApp } from './app';

const { signer, verifier, tokenFor } = createTestAuth();
/**
 * An administrator's token, as sign-in issues it. This app has no live permission reader (no shared store), so the
 * signed `permissions` claim stands in for it; the `roles` claim never grants anything.
 */
const readerToken = () => signer.sign({ userId: ids.alice, roles: ['admin'], permissions: ['users:read'] });

let db: TestDatabase;
let subgraph: TestSubgraph;
let graphqlUrl: string;
const ids = { alice: '', bob: '', carol: '', deleted: '' };

beforeAll(async () => {
  db = await createTestDatabase();
  const create = (email: string, extra: object = {}) =>
    db.prisma.user.create({ data: { email, status: 'ACTIVE', emailVerified: true, ...extra } });
  ids.alice = (await create('alice@example.test')).id;
  ids.bob = (await create('bob@example.test')).id;
  ids.carol = (
    await create('carol@example.test', { status: 'PENDING_VERIFICATION', emailVerified: false })
  ).id;
  ids.deleted = (await create('gone@example.test', { deletedAt: new Date() })).id;

  subgraph = await startTestSubgraph({ name: 'identity', createApp, prisma: db.prisma, verifier });
  graphqlUrl = subgraph.url;
});

afterAll(async () => {
  await subgraph?.stop();
  await db?.close();
});

describe('Query.me', () => {
  it('is null for anonymous callers', async () => {
    const { body } = await postGraphQL(graphqlUrl, '{ me { id } }');
    expect(body).toEqual({ data: { me: null } });
  });

  it("returns the viewer's user from the database", async () => {
    const { body } = await postGraphQL(graphqlUrl, '{ me { id email emailVerified status createdAt } }', {
      token: await tokenFor(ids.carol),
    });
    expect(body.errors).toBeUndefined();
    expect(body.data?.me).toEqual({
      id: ids.carol,
      email: 'carol@example.test',
      emailVerified: false,
      status: 'PENDING_VERIFICATION',
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
    });
  });

  it('rejects an expired token with 401', async () => {
    const token = await signer.sign(
      { userId: ids.alice, roles: [] },
      { issuedAt: new Date(Date.now() - 3_600_000) },
    );
    const response = await postGraphQL(graphqlUrl, '{ me { id } }', { token });
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });
});

describe('Query.user', () => {
  const query = 'query ($id: ID!) { user(id: $id) { id email } }';

  it('requires authentication', async () => {
    const { body } = await postGraphQL(graphqlUrl, query, { variables: { id: ids.alice } });
    expect(body.data).toEqual({ user: null });
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });

  it('lets users read themselves', async () => {
    const { body } = await postGraphQL(graphqlUrl, query, {
      variables: { id: ids.alice },
      token: await tokenFor(ids.alice),
    });
    expect(body).toEqual({ data: { user: { id: ids.alice, email: 'alice@example.test' } } });
  });

  it("refuses another user's account", async () => {
    const { body } = await postGraphQL(graphqlUrl, query, {
      variables: { id: ids.bob },
      token: await tokenFor(ids.alice),
    });
    expect(body.data).toEqual({ user: null });
    expect(body.errors?.[0]?.extensions).toEqual({
      code: 'FORBIDDEN',
      details: { reason: 'USER_NOT_ACCESSIBLE' },
    });
  });

  // Issue #14: the `admin` role claim alone reads nobody else (it outlives a demotion); `users:read` does.
  it('refuses another user to a token whose only claim is the admin role', async () => {
    const token = await tokenFor(ids.alice, ['admin']);
    const { body } = await postGraphQL(graphqlUrl, query, { variables: { id: ids.bob }, token });
    expect(body.data?.user ?? null).toBeNull();
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('lets administrators read anyone, and returns null for unknown, malformed and deleted ids', async () => {
    const token = await readerToken();
    const read = async (id: string) =>
      (await postGraphQL(graphqlUrl, query, { variables: { id }, token })).body;
    expect(await read(ids.bob)).toEqual({ data: { user: { id: ids.bob, email: 'bob@example.test' } } });
    expect(await read('00000000-0000-4000-8000-000000000000')).toEqual({ data: { user: null } });
    expect(await read('not-a-uuid')).toEqual({ data: { user: null } });
    expect(await read(ids.deleted)).toEqual({ data: { user: null } });
  });
});

describe('User entity (federation)', () => {
  const query =
    'query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id email status } } }';
  const reps = () => [ids.alice, ids.bob, ids.carol].map((id) => ({ __typename: 'User', id }));

  it('resolves N references with one query', async () => {
    const token = await readerToken();
    const sql = recordSqlStatements(db.pool);
    try {
      const { body } = await postGraphQL(graphqlUrl, query, { variables: { reps: reps() }, token });
      expect(body.errors).toBeUndefined();
      expect(body.data?._entities).toEqual([
        { id: ids.alice, email: 'alice@example.test', status: 'ACTIVE' },
        { id: ids.bob, email: 'bob@example.test', status: 'ACTIVE' },
        { id: ids.carol, email: 'carol@example.test', status: 'PENDING_VERIFICATION' },
      ]);
      expect(sql.count('users')).toBe(1);
    } finally {
      sql.restore();
    }
  });

  it("applies field permissions to entities: other users' fields are FORBIDDEN", async () => {
    const { body } = await postGraphQL(graphqlUrl, query, {
      variables: { reps: reps() },
      token: await tokenFor(ids.bob),
    });
    expect(body.data?._entities).toEqual([
      null,
      { id: ids.bob, email: 'bob@example.test', status: 'ACTIVE' },
      null,
    ]);
    expect(body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });

  it('reveals nothing to anonymous callers', async () => {
    const { body } = await postGraphQL(graphqlUrl, query, { variables: { reps: reps() } });
    expect(body.data?._entities).toEqual([null, null, null]);
    expect(new Set(body.errors?.map((e) => e.extensions?.code))).toEqual(new Set(['UNAUTHENTICATED']));
  });

  it('publishes its SDL to the gateway', async () => {
    const { body } = await postGraphQL<{ _service: { sdl: string } }>(graphqlUrl, '{ _service { sdl } }');
    expect(body.data?._service.sdl).toMatch(/type User\s+@key\(fields: "id"\)/);
  });
});
