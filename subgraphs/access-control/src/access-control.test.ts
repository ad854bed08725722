import { seed } from '@gatehouse/db';
import { createLogger } from '@gatehouse/logger';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import {
  createAccessTokenSigner,
  createAccessTokenVerifier,
  generateRsaKeyPair,
  postGraphQL,
  startHttpService,
  type HttpService,
} from '@gatehouse/service';
import { createApp } from './app';

const keys = generateRsaKeyPair();
const auth = { issuer: 'http://127.0.0.1:4000', audience: 'gatehouse' };
const signer = createAccessTokenSigner({ privateKeyPem: keys.privateKeyPem, ...auth });
const verifier = createAccessTokenVerifier({ publicKeyPem: keys.publicKeyPem, ...auth });

let db: TestDatabase;
let service: HttpService;
let graphqlUrl: string;
const ids = { admin: '', alice: '', bob: '' };

/** Counts SQL statements sent through the pool (under Prisma) that read `table`. */
function countQueriesOn(table: string): { count: () => number; restore: () => void } {
  const spy = jest.spyOn(db.pool, 'query');
  return {
    count: () =>
      spy.mock.calls.filter(([statement]) => {
        const text = typeof statement === 'string' ? statement : (statement as { text?: string }).text;
        return text?.includes(`"${table}"`) ?? false;
      }).length,
    restore: () => spy.mockRestore(),
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  const summary = await seed(db.prisma, {
    adminEmail: 'admin@example.test',
    adminPassword: 'not-used-in-this-test',
    hashPassword: async () => 'not-a-real-hash',
  });
  ids.admin = summary.admin.id;
  const roleId = async (name: string) => (await db.prisma.role.findUniqueOrThrow({ where: { name } })).id;
  ids.alice = (await db.prisma.user.create({ data: { email: 'alice@example.test' } })).id;
  ids.bob = (await db.prisma.user.create({ data: { email: 'bob@example.test' } })).id;
  await db.prisma.userRole.createMany({
    data: [
      { userId: ids.alice, roleId: await roleId('member') },
      { userId: ids.bob, roleId: await roleId('member') },
      { userId: ids.bob, roleId: await roleId('support') },
      // Expired grants must not count.
      { userId: ids.alice, roleId: await roleId('admin'), expiresAt: new Date(Date.now() - 60_000) },
    ],
  });

  const logger = createLogger({ name: 'access-control-test', level: 'silent' });
  const app = createApp({ prisma: db.prisma, logger, verifier, production: false });
  service = await startHttpService({
    name: 'access-control',
    host: '127.0.0.1',
    port: 0,
    logger,
    graphql: app,
    readinessChecks: {},
  });
  graphqlUrl = `${service.url}/graphql`;
});

afterAll(async () => {
  await service?.stop();
  await db?.close();
});

const tokenFor = (userId: string, roles: string[] = ['member']) => signer.sign({ userId, roles });

describe('Query.roles', () => {
  const query = '{ roles { name isSystem description parent { name } permissions { key } } }';

  it('lists the seeded roles with parents and permissions, in a fixed number of queries', async () => {
    const queries = { roles: countQueriesOn('roles'), permissions: countQueriesOn('role_permissions') };
    try {
      const { body } = await postGraphQL(graphqlUrl, query, { token: await tokenFor(ids.admin, ['admin']) });
      expect(body.errors).toBeUndefined();
      expect(body.data?.roles).toEqual([
        {
          name: 'admin',
          isSystem: true,
          description: 'Full administrative access',
          parent: { name: 'support' },
          permissions: [
            { key: 'billing:manage' },
            { key: 'roles:manage' },
            { key: 'settings:manage' },
            { key: 'users:write' },
          ],
        },
        {
          name: 'member',
          isSystem: true,
          description: 'Every signed-up user',
          parent: null,
          permissions: [],
        },
        {
          name: 'support',
          isSystem: true,
          description: expect.any(String),
          parent: { name: 'member' },
          permissions: [{ key: 'audit:read' }, { key: 'billing:read' }, { key: 'users:read' }],
        },
      ]);
      // One for the roles (parents come from the same rows), one for all their permissions.
      expect(queries.roles.count()).toBe(1);
      expect(queries.permissions.count()).toBe(1);
    } finally {
      queries.roles.restore();
      queries.permissions.restore();
    }
  });

  it('is for administrators only', async () => {
    const member = await postGraphQL(graphqlUrl, query, { token: await tokenFor(ids.alice) });
    expect(member.body.data).toBeNull();
    expect(member.body.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN' });
    const anonymous = await postGraphQL(graphqlUrl, query);
    expect(anonymous.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });
});

describe('User.roles', () => {
  const query =
    'query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id roles { name } } } }';
  const reps = () => [ids.admin, ids.alice, ids.bob].map((id) => ({ __typename: 'User', id }));

  it('loads the roles of N users with one query, ignoring expired grants', async () => {
    const queries = countQueriesOn('user_roles');
    try {
      const { body } = await postGraphQL(graphqlUrl, query, {
        variables: { reps: reps() },
        token: await tokenFor(ids.admin, ['admin']),
      });
      expect(body.errors).toBeUndefined();
      expect(body.data?._entities).toEqual([
        { id: ids.admin, roles: [{ name: 'admin' }] },
        { id: ids.alice, roles: [{ name: 'member' }] },
        { id: ids.bob, roles: [{ name: 'member' }, { name: 'support' }] },
      ]);
      expect(queries.count()).toBe(1);
    } finally {
      queries.restore();
    }
  });

  it("lets users read their own roles but not other users' roles", async () => {
    const { body } = await postGraphQL(graphqlUrl, query, {
      variables: { reps: reps() },
      token: await tokenFor(ids.alice),
    });
    expect(body.data?._entities).toEqual([null, { id: ids.alice, roles: [{ name: 'member' }] }, null]);
    expect(new Set(body.errors?.map((e) => e.extensions?.code))).toEqual(new Set(['FORBIDDEN']));
  });
});
