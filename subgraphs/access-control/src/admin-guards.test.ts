// Issue #6: role management must not grant roles to deleted users, nor take `admin` from the last active
// administrator. Real PostgreSQL through real HTTP.
import { randomUUID } from 'node:crypto';
import { seed } from '@gatehouse/db';
import {
  createTestAuth,
  postGraphQL,
  startTestSubgraph,
  type GraphQLTestResponse,
  type TestSubgraph,
} from '@gatehouse/service/testing';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { createApp } from './app';

const { signer, verifier } = createTestAuth();

let db: TestDatabase;
let subgraph: TestSubgraph;
let seededAdminId = '';
const roleIds: Record<string, string> = {};

const ASSIGN = `mutation ($userId: ID!, $roleId: ID!) { assignRole(userId: $userId, roleId: $roleId) { id } }`;
const REMOVE = `mutation ($userId: ID!, $roleId: ID!) { removeRole(userId: $userId, roleId: $roleId) { id } }`;

const tokenFor = (userId: string) => signer.sign({ userId, roles: ['admin'] });

async function gql(query: string, variables: Record<string, unknown>, actorId: string) {
  return (await postGraphQL(subgraph.url, query, { variables, token: await tokenFor(actorId) })).body;
}

/** `code/reason` of the first error, or `ok`. */
function outcomeOf(body: GraphQLTestResponse['body']): string {
  const extensions = body.errors?.[0]?.extensions;
  if (!extensions) return 'ok';
  const reason = (extensions.details as { reason?: string } | undefined)?.reason ?? '-';
  return `${String(extensions.code)}/${reason}`;
}

async function newUser(roles: string[], data: Record<string, unknown> = {}): Promise<string> {
  const user = await db.prisma.user.create({
    data: { email: `${randomUUID()}@example.test`, status: 'ACTIVE', ...data },
  });
  for (const name of roles)
    await db.prisma.userRole.create({ data: { userId: user.id, roleId: roleIds[name]! } });
  return user.id;
}

const holdsAdmin = async (userId: string) =>
  (await db.prisma.userRole.count({ where: { userId, roleId: roleIds.admin } })) === 1;

beforeAll(async () => {
  db = await createTestDatabase();
  seededAdminId = (
    await seed(db.prisma, {
      adminEmail: 'admin@example.test',
      adminPassword: 'not-used-in-this-test',
      hashPassword: async () => 'not-a-real-hash',
    })
  ).admin.id;
  for (const role of await db.prisma.role.findMany()) roleIds[role.name] = role.id;
  subgraph = await startTestSubgraph({ name: 'access-control', createApp, prisma: db.prisma, verifier });
});

afterAll(async () => {
  await subgraph?.stop();
  await db?.close();
});

/** Only `seededAdminId` and the given users hold `admin` while a test runs (the others' grants are removed). */
async function onlyAdmins(...userIds: string[]) {
  await db.prisma.userRole.deleteMany({
    where: { roleId: roleIds.admin, userId: { notIn: [seededAdminId, ...userIds] } },
  });
}

describe('assignRole', () => {
  it('refuses a deleted user like an unknown one, granting nothing', async () => {
    const deleted = await newUser([], { status: 'DELETED', deletedAt: new Date() });
    const softDeleted = await newUser([], { deletedAt: new Date() });
    for (const userId of [deleted, softDeleted]) {
      expect(outcomeOf(await gql(ASSIGN, { userId, roleId: roleIds.support }, seededAdminId))).toBe(
        'NOT_FOUND/USER_NOT_FOUND',
      );
      expect(await db.prisma.userRole.count({ where: { userId } })).toBe(0);
    }
    // A suspended (not deleted) user still can be granted a role.
    const suspended = await newUser([], { status: 'SUSPENDED' });
    expect(outcomeOf(await gql(ASSIGN, { userId: suspended, roleId: roleIds.support }, seededAdminId))).toBe(
      'ok',
    );
  });
});

describe('removeRole of admin', () => {
  it('refuses to take admin from the last active administrator, and allows it once another exists', async () => {
    await onlyAdmins();
    // A suspended or deleted administrator does not count as another one.
    const suspended = await newUser(['admin'], { status: 'SUSPENDED' });
    await newUser(['admin'], { status: 'DELETED', deletedAt: new Date() });
    expect(
      outcomeOf(await gql(REMOVE, { userId: seededAdminId, roleId: roleIds.admin }, seededAdminId)),
    ).toBe('CONFLICT/LAST_ADMIN');
    expect(await holdsAdmin(seededAdminId)).toBe(true);
    // Taking admin from a suspended holder leaves the active one: allowed.
    expect(outcomeOf(await gql(REMOVE, { userId: suspended, roleId: roleIds.admin }, seededAdminId))).toBe(
      'ok',
    );

    const second = await newUser(['admin']);
    expect(outcomeOf(await gql(REMOVE, { userId: second, roleId: roleIds.admin }, seededAdminId))).toBe('ok');
    await db.prisma.userRole.create({ data: { userId: second, roleId: roleIds.admin! } });
    expect(outcomeOf(await gql(REMOVE, { userId: seededAdminId, roleId: roleIds.admin }, second))).toBe('ok');
    // Now `second` is the last one.
    expect(outcomeOf(await gql(REMOVE, { userId: second, roleId: roleIds.admin }, second))).toBe(
      'CONFLICT/LAST_ADMIN',
    );
    await db.prisma.userRole.create({ data: { userId: seededAdminId, roleId: roleIds.admin! } });
  });

  it('lets only one of two administrators removing each other at once through', async () => {
    await onlyAdmins();
    const other = await newUser(['admin']);
    const outcomes = await Promise.all([
      gql(REMOVE, { userId: other, roleId: roleIds.admin }, seededAdminId),
      gql(REMOVE, { userId: seededAdminId, roleId: roleIds.admin }, other),
    ]);
    // The loser is refused either by the guard (both checks raced) or, when the winner's removal committed first, by
    // the shield: it no longer holds `roles:manage` (live permissions). Never both through.
    const [first, second] = outcomes.map(outcomeOf).sort();
    expect(second).toBe('ok');
    expect(['CONFLICT/LAST_ADMIN', 'FORBIDDEN/-']).toContain(first);
    const remaining = [await holdsAdmin(seededAdminId), await holdsAdmin(other)];
    expect(remaining.filter(Boolean)).toHaveLength(1);
    if (!remaining[0])
      await db.prisma.userRole.create({ data: { userId: seededAdminId, roleId: roleIds.admin! } });
  });

  it('does not guard other roles', async () => {
    const userId = await newUser(['support']);
    expect(outcomeOf(await gql(REMOVE, { userId, roleId: roleIds.support }, seededAdminId))).toBe('ok');
  });
});
