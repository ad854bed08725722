import { seed } from '@gatehouse/db';
import { createTestDatabase, recordSqlStatements, type TestDatabase } from '@gatehouse/testing';
import {
  createTestAuth,
  postGraphQL,
  startTestSubgraph,
  type TestSubgraph,
} from '@gatehouse/service/testing';
import { createApp } from './app';

const { verifier, tokenFor } = createTestAuth();

let db: TestDatabase;
let subgraph: TestSubgraph;
let graphqlUrl: string;
const ids = { admin: '', alice: '', bob: '' };

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

  subgraph = await startTestSubgraph({ name: 'access-control', createApp, prisma: db.prisma, verifier });
  graphqlUrl = subgraph.url;
});

afterAll(async () => {
  await subgraph?.stop();
  await db?.close();
});

describe('Query.roles', () => {
  const query = '{ roles { name isSystem description parent { name } permissions { key } } }';

  it('lists the seeded roles with parents and permissions, in a fixed number of queries', async () => {
    const token = await tokenFor(ids.admin, ['admin']);
    // Warms the cache of the viewer's live permissions, which the rules read (role-management.test.ts counts that).
    await postGraphQL(graphqlUrl, '{ roles { id } }', { token });
    const sql = recordSqlStatements(db.pool);
    try {
      const { body } = await postGraphQL(graphqlUrl, query, { token });
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
      expect(sql.count('roles')).toBe(1);
      expect(sql.count('role_permissions')).toBe(1);
    } finally {
      sql.restore();
    }
  });

  it('is for role managers and user readers only', async () => {
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
    const token = await tokenFor(ids.admin, ['admin']);
    await postGraphQL(graphqlUrl, '{ roles { id } }', { token }); // warms the viewer's live permissions
    const sql = recordSqlStatements(db.pool);
    try {
      const { body } = await postGraphQL(graphqlUrl, query, { variables: { reps: reps() }, token });
      expect(body.errors).toBeUndefined();
      expect(body.data?._entities).toEqual([
        { id: ids.admin, roles: [{ name: 'admin' }] },
        { id: ids.alice, roles: [{ name: 'member' }] },
        { id: ids.bob, roles: [{ name: 'member' }, { name: 'support' }] },
      ]);
      expect(sql.count('user_roles')).toBe(1);
    } finally {
      sql.restore();
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

describe('User.permissions', () => {
  it('is every key through role inheritance, for N users in one query, without expired grants', async () => {
    const query =
      'query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id permissions } } }';
    // What the seeded roles grant, computed here from the database rows rather than trusted from the resolver.
    const keysOf = async (roleNames: string[]) => {
      const keys = new Set<string>();
      for (let pending = roleNames; pending.length > 0;) {
        const roles = await db.prisma.role.findMany({
          where: { name: { in: pending } },
          select: { parent: { select: { name: true } }, permissions: { select: { permission: true } } },
        });
        for (const role of roles) for (const grant of role.permissions) keys.add(grant.permission.key);
        pending = roles.flatMap((role) => (role.parent ? [role.parent.name] : []));
      }
      return [...keys].sort();
    };
    const sql = recordSqlStatements(db.pool);
    try {
      const { body } = await postGraphQL(graphqlUrl, query, {
        variables: { reps: [ids.admin, ids.alice, ids.bob].map((id) => ({ __typename: 'User', id })) },
        token: await tokenFor(ids.admin, ['admin']),
      });
      expect(body.errors).toBeUndefined();
      expect(sql.count('role_permissions')).toBe(1);
      const member = await keysOf(['member']);
      const support = await keysOf(['support']);
      const admin = await keysOf(['admin']);
      // Inheritance is what is tested: each role adds keys to its parent's.
      expect(support.length).toBeGreaterThan(member.length);
      expect(admin.length).toBeGreaterThan(support.length);
      expect(admin).toEqual(expect.arrayContaining(support));
      expect(body.data?._entities).toEqual([
        { id: ids.admin, permissions: admin },
        // Alice's admin grant expired: a member's keys only.
        { id: ids.alice, permissions: member },
        { id: ids.bob, permissions: support },
      ]);
    } finally {
      sql.restore();
    }
  });
});
