// Issue #6 through the gateway: roles inheriting three levels deep, a removed permission refused on the very next
// request with the same access token, and the audit trail (cursor query and streamed export) for administrators.
import { seed } from '@gatehouse/db';
import { postGraphQL } from '@gatehouse/service/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

let supergraph: Supergraph;
const ids = { admin: '', alice: '', bob: '', carol: '', adminRole: '' };
const tokens = { admin: '', alice: '' };

beforeAll(async () => {
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      const summary = await seed(prisma, {
        adminEmail: 'admin@example.test',
        adminPassword: 'not used by this test',
        hashPassword: async () => 'not-a-real-hash',
      });
      ids.admin = summary.admin.id;
      const member = await prisma.role.findUniqueOrThrow({ where: { name: 'member' } });
      for (const name of ['alice', 'bob'] as const) {
        ids[name] = (
          await prisma.user.create({
            data: {
              email: `${name}@example.test`,
              status: 'ACTIVE',
              emailVerified: true,
              roles: { create: { roleId: member.id } },
            },
          })
        ).id;
      }
      // A second administrator, to be demoted.
      ids.adminRole = (await prisma.role.findUniqueOrThrow({ where: { name: 'admin' } })).id;
      ids.carol = (
        await prisma.user.create({
          data: {
            email: 'carol@example.test',
            status: 'ACTIVE',
            emailVerified: true,
            roles: { create: [{ roleId: member.id }, { roleId: ids.adminRole }] },
          },
        })
      ).id;
    },
  });
  // Tokens as sign-in issues them; Alice's claims name no permission at all: the rules must look them up live.
  tokens.admin = await supergraph.signer.sign({
    userId: ids.admin,
    email: 'admin@example.test',
    roles: ['admin'],
    permissions: ['audit:read', 'roles:manage', 'users:read'],
  });
  tokens.alice = await supergraph.signer.sign({
    userId: ids.alice,
    email: 'alice@example.test',
    roles: ['member'],
    permissions: [],
  });
});

afterAll(async () => {
  await supergraph?.close();
});

type Body<T> = { data?: T | null; errors?: { extensions?: { code?: string } }[] };
const gql = async <T = Record<string, unknown>>(query: string, variables: object, token: string) =>
  (
    await postGraphQL<T>(supergraph.graphqlUrl, query, {
      variables: variables as Record<string, unknown>,
      token,
    })
  ).body as Body<T>;

const CREATE = `mutation($i: CreateRoleInput!) { createRole(input: $i) { id name } }`;
const WHY = `query($p: String!, $u: ID) { whyCanI(permission: $p, userId: $u) { granted paths { name } } }`;

it('a grandparent role grants through three levels, and removing it is refused on the next request', async () => {
  const create = async (name: string, parentId: string | null, permissionKeys: string[]) => {
    const body = await gql<{ createRole: { id: string } }>(
      CREATE,
      { i: { name, description: `${name} (test)`, parentId, permissionKeys } },
      tokens.admin,
    );
    expect(body.errors).toBeUndefined();
    return body.data!.createRole.id;
  };
  const auditors = await create('auditors', null, ['users:read']);
  const reviewers = await create('reviewers', auditors, []);
  const interns = await create('interns', reviewers, []);
  const assigned = await gql(
    `mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { id } }`,
    { u: ids.alice, r: interns },
    tokens.admin,
  );
  expect(assigned.errors).toBeUndefined();

  // Alice holds `users:read` through the chain interns -> reviewers -> auditors...
  const why = await gql<{ whyCanI: { granted: boolean; paths: { name: string }[][] } }>(
    WHY,
    { p: 'users:read' },
    tokens.alice,
  );
  expect(why.errors).toBeUndefined();
  expect(why.data!.whyCanI.granted).toBe(true);
  expect(why.data!.whyCanI.paths).toContainEqual([
    { name: 'interns' },
    { name: 'reviewers' },
    { name: 'auditors' },
  ]);
  // ...which lets her ask about Bob's access (Bob has none of it).
  const aboutBob = await gql(WHY, { p: 'users:read', u: ids.bob }, tokens.alice);
  expect(aboutBob.data).toEqual({ whyCanI: { granted: false, paths: [] } });

  // The grandparent loses the permission: Alice's very next request, with the same token, is refused.
  const updated = await gql(
    `mutation($id: ID!, $i: UpdateRoleInput!) { updateRole(id: $id, input: $i) { id } }`,
    { id: auditors, i: { permissionKeys: [] } },
    tokens.admin,
  );
  expect(updated.errors).toBeUndefined();
  const refused = await gql(WHY, { p: 'users:read', u: ids.bob }, tokens.alice);
  expect(refused.data ?? null).toBeNull();
  expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
});

it('administrators read the audit trail page by page and export it as CSV; members cannot', async () => {
  const page = await gql<{
    auditLogs: {
      edges: { node: { action: string; actorUserId: string } }[];
      pageInfo: { hasNextPage: boolean };
    };
  }>(
    `query($f: AuditLogFilter) { auditLogs(filter: $f, first: 10) {
      edges { node { action actorUserId } } pageInfo { hasNextPage } } }`,
    { f: { actions: ['ROLE_ASSIGNED', 'ROLE_CREATED'] } },
    tokens.admin,
  );
  expect(page.errors).toBeUndefined();
  const actions = page.data!.auditLogs.edges.map((edge) => edge.node.action);
  expect(actions).toContain('ROLE_ASSIGNED');
  expect(page.data!.auditLogs.edges.every((edge) => edge.node.actorUserId === ids.admin)).toBe(true);
  const denied = await gql(`{ auditLogs { pageInfo { hasNextPage } } }`, {}, tokens.alice);
  expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

  const origin = supergraph.graphqlUrl.replace(/\/graphql$/, '');
  const exported = await fetch(`${origin}/admin/audit-logs/export?format=csv&actions=ROLE_CREATED`, {
    headers: { authorization: `Bearer ${tokens.admin}` },
  });
  expect(exported.status).toBe(200);
  const lines = (await exported.text()).trim().split(/\r?\n/);
  expect(lines[0]).toMatch(/^id,created_?at/i);
  expect(lines.filter((line) => line.includes('ROLE_CREATED'))).toHaveLength(3);
  const forbidden = await fetch(`${origin}/admin/audit-logs/export?format=csv`, {
    headers: { authorization: `Bearer ${tokens.alice}` },
  });
  expect(forbidden.status).toBe(403);
  expect((await fetch(`${origin}/admin/audit-logs/export?format=csv`)).status).toBe(401);
});

// Issue #14: `isAdmin`-style checks read the token's `admin` role claim, so a demoted administrator kept reading
// other users until the token expired. Every check now reads live permissions.
it('a demoted administrator is refused on the very next request with the same, still valid token', async () => {
  const carol = await supergraph.signer.sign({
    userId: ids.carol,
    email: 'carol@example.test',
    roles: ['admin', 'member'],
    permissions: [
      'users:read',
      'users:write',
      'roles:manage',
      'audit:read',
      'billing:read',
      'billing:manage',
    ],
  });
  const READ_BOB = `query($id: ID!) { user(id: $id) { id email } }`;
  const before = await gql(READ_BOB, { id: ids.bob }, carol);
  expect(before).toEqual({ data: { user: { id: ids.bob, email: 'bob@example.test' } } });

  const removed = await gql(
    `mutation($u: ID!, $r: ID!) { removeRole(userId: $u, roleId: $r) { id } }`,
    { u: ids.carol, r: ids.adminRole },
    tokens.admin,
  );
  expect(removed.errors).toBeUndefined();

  const after = await gql(READ_BOB, { id: ids.bob }, carol);
  expect(after.data?.user ?? null).toBeNull();
  expect(after.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const list = await gql(`{ adminUsers { edges { node { id } } } }`, {}, carol);
  expect(list.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  // Her own account is still hers.
  expect(await gql(`{ me { id } }`, {}, carol)).toEqual({ data: { me: { id: ids.carol } } });
});
