// Issue #6: role management, inheritance, live effective permissions and whyCanI, against real PostgreSQL and
// (with REDIS_URL) Redis, through real HTTP.
import { randomUUID } from 'node:crypto';
import { seed } from '@gatehouse/db';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createEffectivePermissions, type EffectivePermissions } from '@gatehouse/service';
import {
  createTestAuth,
  postGraphQL,
  startTestSubgraph,
  type GraphQLTestResponse,
  type TestSubgraph,
} from '@gatehouse/service/testing';
import {
  createTestDatabase,
  deleteRedisKeys,
  recordSqlStatements,
  redisUrlForTests,
  uniqueTestPrefix,
  type TestDatabase,
} from '@gatehouse/testing';
import { createApp } from '../app';

const { signer, verifier } = createTestAuth();
const redisUrl = redisUrlForTests('@gatehouse/subgraph-access-control role management');
const redisPrefix = uniqueTestPrefix();

let db: TestDatabase;
let kv: KeyValueStore;
let effective: EffectivePermissions;
let subgraph: TestSubgraph;
let adminId = '';
let adminToken = '';
const roleIds: Record<string, string> = {};

/** A token as identity issues it: roles and permissions as claims (the rules must not trust the latter). */
function tokenFor(userId: string, roles: string[] = ['member'], permissions?: string[]): Promise<string> {
  return signer.sign({ userId, roles, ...(permissions ? { permissions } : {}) });
}

async function newUser(roleNames: string[] = ['member']): Promise<string> {
  const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
  for (const name of roleNames)
    await db.prisma.userRole.create({ data: { userId: user.id, roleId: roleIds[name]! } });
  return user.id;
}

async function gql(
  query: string,
  variables: Record<string, unknown> = {},
  /** `null`: anonymous. */
  token: string | null = adminToken,
): Promise<GraphQLTestResponse['body']> {
  return (await postGraphQL(subgraph.url, query, { variables, ...(token === null ? {} : { token }) })).body;
}

/** `code/reason` of the first error, e.g. `CONFLICT/ROLE_NAME_TAKEN` (`FORBIDDEN/-` without a reason). */
function failureOf(body: GraphQLTestResponse['body']): string {
  const extensions = body.errors?.[0]?.extensions;
  if (!extensions) throw new Error(`expected an error, got ${JSON.stringify(body.data)}`);
  const reason = (extensions.details as { reason?: string } | undefined)?.reason ?? '-';
  return `${String(extensions.code)}/${reason}`;
}

function dataOf<T>(body: GraphQLTestResponse['body'], field: string): T {
  if (body.errors) throw new Error(`unexpected errors: ${JSON.stringify(body.errors)}`);
  return body.data?.[field] as T;
}

const CREATE = `mutation ($input: CreateRoleInput!) {
  createRole(input: $input) { id name description isSystem parent { name } permissions { key } }
}`;
const UPDATE = `mutation ($id: ID!, $input: UpdateRoleInput!) {
  updateRole(id: $id, input: $input) { id name description parent { name } permissions { key } }
}`;
const DELETE = 'mutation ($id: ID!) { deleteRole(id: $id) }';
const ASSIGN = `mutation ($userId: ID!, $roleId: ID!, $expiresAt: DateTime) {
  assignRole(userId: $userId, roleId: $roleId, expiresAt: $expiresAt) { id roles { name } permissions }
}`;
const REMOVE = `mutation ($userId: ID!, $roleId: ID!) {
  removeRole(userId: $userId, roleId: $roleId) { id roles { name } }
}`;
const WHY = `query ($permission: String!, $userId: ID) {
  whyCanI(permission: $permission, userId: $userId) { permission granted paths { name } }
}`;

let counter = 0;
/** A fresh role name per call, so tests do not depend on each other's roles. */
const uniqueName = (stem: string) => `${stem}-${++counter}`;

async function createRole(
  input: Record<string, unknown>,
  token = adminToken,
): Promise<{ id: string; name: string }> {
  return dataOf(await gql(CREATE, { input }, token), 'createRole');
}

beforeAll(async () => {
  db = await createTestDatabase();
  const summary = await seed(db.prisma, {
    adminEmail: 'admin@example.test',
    adminPassword: 'not-used-in-this-test',
    hashPassword: async () => 'not-a-real-hash',
  });
  adminId = summary.admin.id;
  for (const role of await db.prisma.role.findMany()) roleIds[role.name] = role.id;
  adminToken = await tokenFor(adminId, ['admin']);
  kv = redisUrl ? createKeyValueStore({ redisUrl, prefix: redisPrefix }) : new MemoryKeyValueStore();
  effective = createEffectivePermissions({ prisma: db.prisma, kv });
  subgraph = await startTestSubgraph({
    name: 'access-control',
    createApp: (deps) => createApp({ ...deps, kv }),
    prisma: db.prisma,
    verifier,
  });
});

afterAll(async () => {
  await subgraph?.stop();
  await kv?.close();
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

describe('the permission registry', () => {
  const query = '{ permissions { resource permissions { key description } } }';

  it('returns every permission grouped by resource, for role managers and user readers only', async () => {
    const groups = dataOf<{ resource: string; permissions: { key: string; description: string }[] }[]>(
      await gql(query),
      'permissions',
    );
    expect(groups.map((group) => group.resource)).toEqual(['audit', 'billing', 'roles', 'settings', 'users']);
    expect(groups.find((group) => group.resource === 'billing')?.permissions).toEqual([
      { key: 'billing:manage', description: 'Manage plans, subscriptions, invoices and refunds' },
      { key: 'billing:read', description: "Read any user's subscriptions, invoices and payments" },
    ]);

    const supportId = await newUser(['support']);
    expect((await gql(query, {}, await tokenFor(supportId, ['support']))).errors).toBeUndefined();
    const memberId = await newUser();
    expect(failureOf(await gql(query, {}, await tokenFor(memberId)))).toBe('FORBIDDEN/-');
    expect(failureOf(await gql(query, {}, null))).toBe('UNAUTHENTICATED/-');
  });
});

describe('createRole', () => {
  it('creates a role with a parent and permissions, and audits it', async () => {
    const name = uniqueName('editor');
    const role = await createRole({
      name,
      description: '  Edits billing  ',
      parentId: roleIds.member,
      permissionKeys: ['billing:read', 'audit:read', 'billing:read'],
    });
    expect(role).toEqual({
      id: expect.any(String),
      name,
      description: 'Edits billing',
      isSystem: false,
      parent: { name: 'member' },
      permissions: [{ key: 'audit:read' }, { key: 'billing:read' }],
    });
    const audit = await db.prisma.auditLog.findFirstOrThrow({ where: { targetId: role.id } });
    expect(audit).toMatchObject({
      action: 'ROLE_CREATED',
      actorUserId: adminId,
      targetType: 'Role',
      metadata: {
        name,
        parentId: roleIds.member,
        permissionKeys: ['audit:read', 'billing:read'],
        outcome: 'SUCCESS',
      },
    });
  });

  it('refuses a taken name, unknown permissions, a missing parent and malformed names', async () => {
    expect(failureOf(await gql(CREATE, { input: { name: 'admin' } }))).toBe('CONFLICT/ROLE_NAME_TAKEN');
    const unknown = await gql(CREATE, {
      input: { name: uniqueName('x'), permissionKeys: ['users:read', 'nope:x'] },
    });
    expect(failureOf(unknown)).toBe('BAD_USER_INPUT/PERMISSION_UNKNOWN');
    expect(unknown.errors?.[0]?.extensions?.details).toEqual({
      reason: 'PERMISSION_UNKNOWN',
      permissions: ['nope:x'],
    });
    expect(failureOf(await gql(CREATE, { input: { name: uniqueName('x'), parentId: randomUUID() } }))).toBe(
      'NOT_FOUND/ROLE_NOT_FOUND',
    );
    expect(failureOf(await gql(CREATE, { input: { name: uniqueName('x'), parentId: 'not-a-uuid' } }))).toBe(
      'NOT_FOUND/ROLE_NOT_FOUND',
    );
    for (const name of ['A-role', '1role', 'r', 'has space', 'x'.repeat(65)]) {
      const body = await gql(CREATE, { input: { name } });
      expect(failureOf(body)).toBe('BAD_USER_INPUT/-');
      expect(body.errors?.[0]?.extensions?.details).toEqual([{ path: 'name', message: expect.any(String) }]);
    }
    expect(await db.prisma.role.count({ where: { name: { startsWith: 'x-' } } })).toBe(0);
  });

  it('needs roles:manage, whatever the token claims', async () => {
    const memberId = await newUser();
    const forged = await tokenFor(memberId, ['admin'], ['roles:manage']);
    expect(failureOf(await gql(CREATE, { input: { name: uniqueName('nope') } }, forged))).toBe('FORBIDDEN/-');
    expect(failureOf(await gql(CREATE, { input: { name: uniqueName('nope') } }, null))).toBe(
      'UNAUTHENTICATED/-',
    );
  });
});

describe('roles and role queries', () => {
  it('filters by parent (null: roles without one) and reads one role', async () => {
    const parent = await createRole({ name: uniqueName('parent') });
    const childA = await createRole({ name: uniqueName('child'), parentId: parent.id });
    const childB = await createRole({ name: uniqueName('child'), parentId: parent.id });
    const byParent = dataOf<{ name: string }[]>(
      await gql('query ($p: ID) { roles(parentId: $p) { name } }', { p: parent.id }),
      'roles',
    );
    expect(byParent).toEqual([{ name: childA.name }, { name: childB.name }]);
    const roots = dataOf<{ name: string }[]>(await gql('{ roles(parentId: null) { name } }'), 'roles');
    expect(roots.map((role) => role.name)).toEqual(expect.arrayContaining(['member', parent.name]));
    expect(roots.map((role) => role.name)).not.toContain(childA.name);
    const all = dataOf<{ name: string }[]>(await gql('{ roles { name } }'), 'roles');
    expect(all.map((role) => role.name)).toEqual(expect.arrayContaining(['admin', childA.name, parent.name]));

    const one = await gql('query ($id: ID!) { role(id: $id) { name parent { name } } }', { id: childA.id });
    expect(dataOf(one, 'role')).toEqual({ name: childA.name, parent: { name: parent.name } });
    expect(
      dataOf(await gql('query ($id: ID!) { role(id: $id) { name } }', { id: randomUUID() }), 'role'),
    ).toBeNull();
  });
});

describe('updateRole', () => {
  it('renames, re-parents and replaces permissions, auditing what changed', async () => {
    const role = await createRole({ name: uniqueName('ops'), permissionKeys: ['audit:read'] });
    const newName = uniqueName('operations');
    const updated = await gql(UPDATE, {
      id: role.id,
      input: { name: newName, parentId: roleIds.member, permissionKeys: ['billing:read'] },
    });
    expect(dataOf(updated, 'updateRole')).toEqual({
      id: role.id,
      name: newName,
      description: null,
      parent: { name: 'member' },
      permissions: [{ key: 'billing:read' }],
    });
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { targetId: role.id, action: 'ROLE_UPDATED' },
    });
    expect(audit.metadata).toEqual({
      name: newName,
      before: { name: role.name, parentId: null, permissionKeys: ['audit:read'] },
      after: { name: newName, parentId: roleIds.member, permissionKeys: ['billing:read'] },
      outcome: 'SUCCESS',
    });
    // Omitted fields stay; null detaches the parent.
    const detached = await gql(UPDATE, { id: role.id, input: { parentId: null } });
    expect(dataOf(detached, 'updateRole')).toMatchObject({
      name: newName,
      parent: null,
      permissions: [{ key: 'billing:read' }],
    });
  });

  it('refuses system roles, unknown roles, taken names and unknown permissions', async () => {
    const role = await createRole({ name: uniqueName('plain') });
    expect(failureOf(await gql(UPDATE, { id: roleIds.support, input: { description: 'x' } }))).toBe(
      'FORBIDDEN/SYSTEM_ROLE_IMMUTABLE',
    );
    expect(failureOf(await gql(UPDATE, { id: randomUUID(), input: { description: 'x' } }))).toBe(
      'NOT_FOUND/ROLE_NOT_FOUND',
    );
    expect(failureOf(await gql(UPDATE, { id: role.id, input: { name: 'support' } }))).toBe(
      'CONFLICT/ROLE_NAME_TAKEN',
    );
    expect(failureOf(await gql(UPDATE, { id: role.id, input: { permissionKeys: ['made:up'] } }))).toBe(
      'BAD_USER_INPUT/PERMISSION_UNKNOWN',
    );
    expect(failureOf(await gql(UPDATE, { id: role.id, input: { parentId: randomUUID() } }))).toBe(
      'NOT_FOUND/ROLE_NOT_FOUND',
    );
    const unchanged = await db.prisma.role.findUniqueOrThrow({ where: { id: role.id } });
    expect(unchanged).toMatchObject({ name: role.name, parentRoleId: null });
  });

  it('refuses inheritance cycles (A <- B <- C, then A.parent = C) and self-parenting', async () => {
    const a = await createRole({ name: uniqueName('a') });
    const b = await createRole({ name: uniqueName('b'), parentId: a.id });
    const c = await createRole({ name: uniqueName('c'), parentId: b.id });
    expect(failureOf(await gql(UPDATE, { id: a.id, input: { parentId: c.id } }))).toBe(
      'BAD_USER_INPUT/ROLE_CYCLE',
    );
    expect(failureOf(await gql(UPDATE, { id: a.id, input: { parentId: a.id } }))).toBe(
      'BAD_USER_INPUT/ROLE_CYCLE',
    );
    expect((await db.prisma.role.findUniqueOrThrow({ where: { id: a.id } })).parentRoleId).toBeNull();
    // Moving C above A is fine once C no longer inherits from A.
    expect((await gql(UPDATE, { id: c.id, input: { parentId: null } })).errors).toBeUndefined();
    expect((await gql(UPDATE, { id: a.id, input: { parentId: c.id } })).errors).toBeUndefined();
  });
});

describe('concurrent changes', () => {
  it('lets only one of two crossing re-parentings through (no cycle built from two checks)', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await createRole({ name: uniqueName('race-a') });
      const b = await createRole({ name: uniqueName('race-b') });
      const results = await Promise.all([
        gql(UPDATE, { id: a.id, input: { parentId: b.id } }),
        gql(UPDATE, { id: b.id, input: { parentId: a.id } }),
      ]);
      const failures = results.filter((body) => body.errors).map(failureOf);
      expect(failures).toEqual(['BAD_USER_INPUT/ROLE_CYCLE']);
      const rows = await db.prisma.role.findMany({ where: { id: { in: [a.id, b.id] } } });
      expect(rows.filter((row) => row.parentRoleId !== null)).toHaveLength(1);
    }
  });

  it('grants a role once when two assignments race', async () => {
    const userId = await newUser([]);
    const results = await Promise.all([
      gql(ASSIGN, { userId, roleId: roleIds.support }),
      gql(ASSIGN, { userId, roleId: roleIds.support }),
    ]);
    expect(results.filter((body) => body.errors).map(failureOf)).toEqual(['CONFLICT/ROLE_ALREADY_ASSIGNED']);
    expect(await db.prisma.userRole.count({ where: { userId } })).toBe(1);
    expect(await db.prisma.auditLog.count({ where: { targetId: userId, action: 'ROLE_ASSIGNED' } })).toBe(1);
  });
});

describe('deleteRole', () => {
  it('deletes an unused custom role and audits it', async () => {
    const role = await createRole({ name: uniqueName('temp'), permissionKeys: ['audit:read'] });
    expect(dataOf(await gql(DELETE, { id: role.id }), 'deleteRole')).toBe(role.id);
    expect(await db.prisma.role.findUnique({ where: { id: role.id } })).toBeNull();
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { targetId: role.id, action: 'ROLE_DELETED' },
    });
    expect(audit.metadata).toEqual({
      name: role.name,
      parentId: null,
      permissionKeys: ['audit:read'],
      outcome: 'SUCCESS',
    });
  });

  it('refuses system roles, roles in use (users or child roles) and unknown roles', async () => {
    expect(failureOf(await gql(DELETE, { id: roleIds.member }))).toBe('FORBIDDEN/SYSTEM_ROLE_IMMUTABLE');
    const held = await createRole({ name: uniqueName('held') });
    const holder = await newUser();
    await db.prisma.userRole.create({ data: { userId: holder, roleId: held.id } });
    const heldBody = await gql(DELETE, { id: held.id });
    expect(failureOf(heldBody)).toBe('CONFLICT/ROLE_IN_USE');
    expect(heldBody.errors?.[0]?.extensions?.details).toEqual({
      reason: 'ROLE_IN_USE',
      users: 1,
      childRoles: 0,
    });
    const parent = await createRole({ name: uniqueName('parent') });
    await createRole({ name: uniqueName('child'), parentId: parent.id });
    expect(failureOf(await gql(DELETE, { id: parent.id }))).toBe('CONFLICT/ROLE_IN_USE');
    expect(failureOf(await gql(DELETE, { id: randomUUID() }))).toBe('NOT_FOUND/ROLE_NOT_FOUND');
    expect(await db.prisma.role.count({ where: { id: { in: [held.id, parent.id] } } })).toBe(2);
  });

  it('ignores expired grants when deciding whether a role is in use', async () => {
    const role = await createRole({ name: uniqueName('lapsed') });
    const holder = await newUser();
    await db.prisma.userRole.create({
      data: { userId: holder, roleId: role.id, expiresAt: new Date(Date.now() - 1000) },
    });
    expect(dataOf(await gql(DELETE, { id: role.id }), 'deleteRole')).toBe(role.id);
  });
});

describe('assignRole and removeRole', () => {
  it('grants and takes away a role, with audit entries and no duplicates', async () => {
    const userId = await newUser([]);
    const assigned = await gql(ASSIGN, { userId, roleId: roleIds.support });
    expect(dataOf(assigned, 'assignRole')).toEqual({
      id: userId,
      roles: [{ name: 'support' }],
      permissions: ['audit:read', 'billing:read', 'users:read'],
    });
    expect(failureOf(await gql(ASSIGN, { userId, roleId: roleIds.support }))).toBe(
      'CONFLICT/ROLE_ALREADY_ASSIGNED',
    );
    expect(await db.prisma.userRole.count({ where: { userId } })).toBe(1);

    expect(dataOf(await gql(REMOVE, { userId, roleId: roleIds.support }), 'removeRole')).toEqual({
      id: userId,
      roles: [],
    });
    expect(failureOf(await gql(REMOVE, { userId, roleId: roleIds.support }))).toBe(
      'NOT_FOUND/ROLE_NOT_ASSIGNED',
    );

    const rows = await db.prisma.auditLog.findMany({
      where: { targetId: userId },
      orderBy: { createdAt: 'asc' },
    });
    expect(rows.map((row) => [row.action, row.actorUserId, row.targetType, row.metadata])).toEqual([
      [
        'ROLE_ASSIGNED',
        adminId,
        'User',
        { roleId: roleIds.support, roleName: 'support', expiresAt: null, renewed: false, outcome: 'SUCCESS' },
      ],
      ['ROLE_REMOVED', adminId, 'User', { roleId: roleIds.support, roleName: 'support', outcome: 'SUCCESS' }],
    ]);
  });

  it('refuses unknown users and roles and expiry times in the past', async () => {
    const userId = await newUser([]);
    expect(failureOf(await gql(ASSIGN, { userId: randomUUID(), roleId: roleIds.support }))).toBe(
      'NOT_FOUND/USER_NOT_FOUND',
    );
    expect(failureOf(await gql(ASSIGN, { userId: 'nobody', roleId: roleIds.support }))).toBe(
      'NOT_FOUND/USER_NOT_FOUND',
    );
    expect(failureOf(await gql(ASSIGN, { userId, roleId: randomUUID() }))).toBe('NOT_FOUND/ROLE_NOT_FOUND');
    const past = await gql(ASSIGN, {
      userId,
      roleId: roleIds.support,
      expiresAt: '2020-01-01T00:00:00.000Z',
    });
    expect(failureOf(past)).toBe('BAD_USER_INPUT/-');
    expect(failureOf(await gql(REMOVE, { userId, roleId: randomUUID() }))).toBe(
      'NOT_FOUND/ROLE_NOT_ASSIGNED',
    );
    expect(await db.prisma.userRole.count({ where: { userId } })).toBe(0);
  });

  it('renews an expired grant, and a grant stops counting when it expires', async () => {
    const userId = await newUser([]);
    await db.prisma.userRole.create({
      data: { userId, roleId: roleIds.support!, expiresAt: new Date(Date.now() - 60_000) },
    });
    expect(failureOf(await gql(REMOVE, { userId, roleId: roleIds.support }))).toBe(
      'NOT_FOUND/ROLE_NOT_ASSIGNED',
    );
    const expiresAt = new Date(Date.now() + 1500);
    const renewed = await gql(ASSIGN, {
      userId,
      roleId: roleIds.support,
      expiresAt: expiresAt.toISOString(),
    });
    expect(dataOf<{ permissions: string[] }>(renewed, 'assignRole').permissions).toContain('users:read');
    expect((await effective.of(userId)).has('users:read')).toBe(true);
    // The cached set lives no longer than the grant.
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect((await effective.of(userId)).has('users:read')).toBe(false);
  });
});

describe('inheritance and live permissions', () => {
  it('reaches the holder of a grandchild role three levels down, and whyCanI names the path', async () => {
    const grandparent = await createRole({ name: uniqueName('gp'), permissionKeys: ['users:read'] });
    const parent = await createRole({
      name: uniqueName('p'),
      parentId: grandparent.id,
      permissionKeys: ['audit:read'],
    });
    const child = await createRole({ name: uniqueName('c'), parentId: parent.id });
    const userId = await newUser([]);
    await gql(ASSIGN, { userId, roleId: child.id });
    const token = await tokenFor(userId, [child.name]);

    expect(await effective.of(userId)).toEqual(new Set(['audit:read', 'users:read']));
    // users:read (granted two levels up) opens the catalog.
    expect((await gql('{ roles { name } }', {}, token)).errors).toBeUndefined();

    const why = dataOf(await gql(WHY, { permission: 'users:read' }, token), 'whyCanI');
    expect(why).toEqual({
      permission: 'users:read',
      granted: true,
      paths: [[{ name: child.name }, { name: parent.name }, { name: grandparent.name }]],
    });
    const notGranted = dataOf(await gql(WHY, { permission: 'billing:manage' }, token), 'whyCanI');
    expect(notGranted).toEqual({ permission: 'billing:manage', granted: false, paths: [] });

    // Removing the key from the grandparent removes it from the grandchild's holder at once.
    await gql(UPDATE, { id: grandparent.id, input: { permissionKeys: [] } });
    expect(failureOf(await gql('{ roles { name } }', {}, token))).toBe('FORBIDDEN/-');
    expect(
      dataOf<{ granted: boolean }>(await gql(WHY, { permission: 'users:read' }, token), 'whyCanI').granted,
    ).toBe(false);
  });

  it('explains several paths (a role held directly and through inheritance), shortest first', async () => {
    const userId = await newUser(['support', 'admin']);
    const why = dataOf(await gql(WHY, { permission: 'users:read', userId }), 'whyCanI');
    expect(why).toEqual({
      permission: 'users:read',
      granted: true,
      paths: [[{ name: 'support' }], [{ name: 'admin' }, { name: 'support' }]],
    });
  });

  it("denies another user's whyCanI without users:read, whether that user exists or not", async () => {
    const memberId = await newUser();
    const token = await tokenFor(memberId);
    const otherId = await newUser(['admin']);
    expect(failureOf(await gql(WHY, { permission: 'users:read', userId: otherId }, token))).toBe(
      'FORBIDDEN/-',
    );
    expect(failureOf(await gql(WHY, { permission: 'users:read', userId: randomUUID() }, token))).toBe(
      'FORBIDDEN/-',
    );
    // About oneself is fine, by omission or by id; an unknown key is a client error.
    expect(
      dataOf(await gql(WHY, { permission: 'users:read', userId: memberId }, token), 'whyCanI'),
    ).toMatchObject({
      granted: false,
    });
    expect(failureOf(await gql(WHY, { permission: 'users:raed' }, token))).toBe(
      'BAD_USER_INPUT/PERMISSION_UNKNOWN',
    );
    expect(failureOf(await gql(WHY, { permission: 'users:read' }, null))).toBe('UNAUTHENTICATED/-');
  });

  it('stops honouring a removed permission at once, with the same token', async () => {
    const managers = await createRole({
      name: uniqueName('role-managers'),
      permissionKeys: ['roles:manage'],
    });
    const userId = await newUser();
    await gql(ASSIGN, { userId, roleId: managers.id });
    // The token claims roles:manage and stays valid for 15 minutes.
    const token = await tokenFor(userId, ['member', managers.name], ['roles:manage']);
    expect((await gql(CREATE, { input: { name: uniqueName('by-manager') } }, token)).errors).toBeUndefined();

    // Take the permission away from the role: the very next call is refused.
    await gql(UPDATE, { id: managers.id, input: { permissionKeys: [] } });
    expect(failureOf(await gql(CREATE, { input: { name: uniqueName('refused') } }, token))).toBe(
      'FORBIDDEN/-',
    );

    // Give it back (works at once too), then take the role away from the user.
    await gql(UPDATE, { id: managers.id, input: { permissionKeys: ['roles:manage'] } });
    expect((await gql(CREATE, { input: { name: uniqueName('by-manager') } }, token)).errors).toBeUndefined();
    await gql(REMOVE, { userId, roleId: managers.id });
    expect(failureOf(await gql(CREATE, { input: { name: uniqueName('refused') } }, token))).toBe(
      'FORBIDDEN/-',
    );
    expect(await db.prisma.role.count({ where: { name: { startsWith: 'refused-' } } })).toBe(0);
  });

  it('lets no role manager hand out permissions they do not hold', async () => {
    const managers = await createRole({
      name: uniqueName('junior-managers'),
      permissionKeys: ['roles:manage'],
    });
    const userId = await newUser();
    await gql(ASSIGN, { userId, roleId: managers.id });
    const token = await tokenFor(userId);

    const escalation = await gql(ASSIGN, { userId, roleId: roleIds.admin }, token);
    expect(failureOf(escalation)).toBe('FORBIDDEN/PRIVILEGE_ESCALATION');
    expect(escalation.errors?.[0]?.extensions?.details).toMatchObject({
      permissions: expect.arrayContaining(['billing:manage', 'users:write']),
    });
    expect(
      failureOf(
        await gql(CREATE, { input: { name: uniqueName('sneaky'), permissionKeys: ['users:write'] } }, token),
      ),
    ).toBe('FORBIDDEN/PRIVILEGE_ESCALATION');
    expect(
      failureOf(await gql(CREATE, { input: { name: uniqueName('sneaky'), parentId: roleIds.admin } }, token)),
    ).toBe('FORBIDDEN/PRIVILEGE_ESCALATION');
    // What they hold, they may hand out.
    const own = await gql(
      CREATE,
      { input: { name: uniqueName('peer'), permissionKeys: ['roles:manage'] } },
      token,
    );
    expect(own.errors).toBeUndefined();
    expect(await db.prisma.userRole.count({ where: { userId, roleId: roleIds.admin } })).toBe(0);
  });
});

describe('the effective-permission cache', () => {
  it('answers from the store until a change to the user or to a role in the chain invalidates it', async () => {
    const top = await createRole({ name: uniqueName('top'), permissionKeys: ['audit:read'] });
    const leaf = await createRole({ name: uniqueName('leaf'), parentId: top.id });
    const userId = await newUser([]);
    await gql(ASSIGN, { userId, roleId: leaf.id });

    const queriesFor = async (read: () => Promise<unknown>) => {
      const sql = recordSqlStatements(db.pool);
      try {
        await read();
        return sql.count('user_roles');
      } finally {
        sql.restore();
      }
    };
    expect(await queriesFor(() => effective.of(userId))).toBe(1);
    expect(await queriesFor(() => effective.of(userId))).toBe(0);

    // A change to the user's own grants.
    await gql(ASSIGN, { userId, roleId: roleIds.member });
    expect(await queriesFor(() => effective.of(userId))).toBe(1);
    expect(await queriesFor(() => effective.of(userId))).toBe(0);

    // A change two roles up the chain reaches the leaf's holder.
    await gql(UPDATE, { id: top.id, input: { permissionKeys: ['audit:read', 'billing:read'] } });
    let keys: ReadonlySet<string> = new Set();
    expect(await queriesFor(async () => (keys = await effective.of(userId)))).toBe(1);
    expect(keys).toEqual(new Set(['audit:read', 'billing:read']));

    // A rename changes no permission: the cached set stays.
    await gql(UPDATE, { id: top.id, input: { name: uniqueName('top-renamed') } });
    expect(await queriesFor(() => effective.of(userId))).toBe(0);
  });

  it('reads the viewer permissions once per request however many rules ask', async () => {
    const supportId = await newUser(['support']);
    const token = await tokenFor(supportId, ['support']);
    await effective.invalidateUsers([supportId]);
    const sql = recordSqlStatements(db.pool);
    try {
      // Three catalog fields, each guarded by or(roles:manage, users:read).
      const body = await gql(
        '{ permissions { resource } roles { name } r: roles(parentId: null) { name } }',
        {},
        token,
      );
      expect(body.errors).toBeUndefined();
      expect(sql.count('user_roles')).toBe(1);
    } finally {
      sql.restore();
    }
  });
});
