import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { seed, type PrismaClient } from '@gatehouse/db';
import { MemoryEventBus } from '@gatehouse/events';
import { createKeyValueStore, MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import {
  createServiceKit,
  GRAPHQL_PATH,
  createAccessTokenSigner,
  createAccessTokenVerifier,
  createSessionLivenessQuery,
  createSessionStatusChecker,
  startHttpService,
  type HttpService,
} from '@gatehouse/service';
import { TEST_TOKEN_AUDIENCE, generateRsaKeyPair, postGraphQL } from '@gatehouse/service/testing';
import {
  createTestDatabase,
  deleteRedisKeys,
  recordSqlStatements,
  redisUrlForTests,
  uniqueTestPrefix,
  type TestDatabase,
  testSecrets,
} from '@gatehouse/testing';
import { createApp } from '../app';
import { loadIdentityConfig } from '../config';
import { createIdentityServices } from '../runtime';
import { createSessionRepository, createSessionService, type SessionService } from '../sessions';

// The admin user API through real HTTP: the identity app with its real services on a fresh PostgreSQL schema and
// Redis (in-process store without REDIS_URL), the seeded roles (member <- support <- admin) and live permissions.

jest.setTimeout(60_000);

const keys = generateRsaKeyPair();
const signer = createAccessTokenSigner({ privateKeyPem: keys.privateKeyPem, ...TEST_TOKEN_AUDIENCE });
const verifier = createAccessTokenVerifier({ publicKeyPem: keys.publicKeyPem, ...TEST_TOKEN_AUDIENCE });
const redisUrl = redisUrlForTests('@gatehouse/subgraph-identity admin');
const redisPrefix = uniqueTestPrefix();
const logger = createLogger({ name: 'admin-test', level: 'silent' });

let db: TestDatabase;
let service: HttpService;
let url: string;
let sessions: SessionService;
let closeIdentity: () => Promise<void>;
let tempDir: string;

const ids = {
  admin: '',
  support: '',
  userAdmin: '',
  roleManager: '',
  alice: '',
  bob: '',
  pending: '',
  suspended: '',
  underscore: '',
  underXscore: '',
  percent: '',
  deleted: '',
};

/** Every user the list shows to an administrator, newest first (`createdAt` below decides). */
let listedNewestFirst: string[] = [];

async function grantRole(prisma: PrismaClient, userId: string, roleName: string) {
  const role = await prisma.role.findUniqueOrThrow({ where: { name: roleName } });
  await prisma.userRole.create({ data: { userId, roleId: role.id } });
}

async function createRoleWith(prisma: PrismaClient, name: string, permissionKey: string) {
  const permission = await prisma.permission.findUniqueOrThrow({ where: { key: permissionKey } });
  await prisma.role.create({
    data: { name, permissions: { create: [{ permissionId: permission.id }] } },
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  const prisma = db.prisma;
  const summary = await seed(prisma, {
    adminEmail: 'root@example.test',
    adminPassword: 'unused password for the seed',
    hashPassword: async () => 'not-a-real-hash',
  });
  ids.admin = summary.admin.id;
  await prisma.user.update({
    where: { id: ids.admin },
    data: { createdAt: new Date('2030-01-01T00:00:00Z') },
  });

  let minute = 0;
  const base = Date.parse('2030-02-01T00:00:00Z');
  const create = async (email: string, extra: Record<string, unknown> = {}) =>
    (
      await prisma.user.create({
        data: {
          email,
          status: 'ACTIVE',
          emailVerified: true,
          createdAt: new Date(base + (minute += 1) * 60_000),
          ...extra,
        },
      })
    ).id;
  ids.support = await create('support@example.test');
  await grantRole(prisma, ids.support, 'support');
  await createRoleWith(prisma, 'user-admin', 'users:write');
  await createRoleWith(prisma, 'role-manager', 'roles:manage');
  ids.userAdmin = await create('user-admin@example.test');
  await grantRole(prisma, ids.userAdmin, 'user-admin');
  ids.roleManager = await create('role-manager@example.test');
  await grantRole(prisma, ids.roleManager, 'role-manager');
  ids.alice = await create('alice@example.test', {
    mfaEnabled: true,
    lastLoginAt: new Date('2030-03-01T10:00:00Z'),
    profile: { create: { displayName: 'Alice Wonderland' } },
  });
  ids.bob = await create('bob@example.test', { profile: { create: { displayName: 'Robert' } } });
  await grantRole(prisma, ids.bob, 'member');
  ids.pending = await create('pending@example.test', {
    status: 'PENDING_VERIFICATION',
    emailVerified: false,
  });
  ids.suspended = await create('suspended@example.test', { status: 'SUSPENDED' });
  // Two users created in the same millisecond: the id orders them.
  const same = new Date(base + (minute += 1) * 60_000);
  ids.underscore = await create('under_score@example.test', { createdAt: same });
  ids.underXscore = await create('underxscore@example.test', { createdAt: same });
  ids.percent = await create('100%club@example.test');
  ids.deleted = await create('deleted@example.test', { status: 'DELETED', deletedAt: new Date() });
  await prisma.oAuthAccount.create({
    data: { userId: ids.alice, provider: 'github', providerAccountId: 'gh-1', email: 'alice@gh.test' },
  });

  const sameTime = [ids.underscore, ids.underXscore].sort().reverse();
  listedNewestFirst = [
    ids.percent,
    ...sameTime,
    ids.suspended,
    ids.pending,
    ids.bob,
    ids.alice,
    ids.roleManager,
    ids.userAdmin,
    ids.support,
    ids.admin,
  ];

  tempDir = await mkdtemp(join(tmpdir(), 'gatehouse-admin-'));
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: 'test',
    ...testSecrets(),
    JWT_PRIVATE_KEY: keys.privateKeyPem,
    JWT_ISSUER: TEST_TOKEN_AUDIENCE.issuer,
    JWT_AUDIENCE: TEST_TOKEN_AUDIENCE.audience,
    MAIL_OUTBOX_DIR: join(tempDir, 'outbox'),
    STORAGE_DIR: join(tempDir, 'storage'),
    STORAGE_PUBLIC_URL: 'http://127.0.0.1:1/files',
    PUBLIC_URL: 'http://127.0.0.1:1',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  };
  const kv = redisUrl ? createKeyValueStore({ redisUrl, prefix: redisPrefix }) : new MemoryKeyValueStore();
  const kit = createServiceKit({ prisma, logger, kv, env, redisPrefix });
  const identity = await createIdentityServices({ prisma, logger, config: loadIdentityConfig(env), kv, kit });
  closeIdentity = async () => {
    await identity.close();
    await kit.close();
    await kv.close();
  };
  // A second session service over the same database and store: the tests sign users in on "their own devices".
  sessions = createSessionService({
    repository: createSessionRepository(prisma),
    kv,
    events: new MemoryEventBus(),
  });
  const sessionCheck = createSessionStatusChecker({
    kv,
    isSessionActive: createSessionLivenessQuery(prisma),
  });
  const app = createApp({
    prisma,
    logger,
    verifier,
    production: false,
    sessionCheck,
    identity: identity.services,
  });
  service = await startHttpService({
    name: 'identity',
    host: '127.0.0.1',
    port: 0,
    logger,
    graphql: app,
    readinessChecks: {},
  });
  url = `${service.url}${GRAPHQL_PATH}`;
});

afterAll(async () => {
  await service?.stop();
  await closeIdentity?.();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
  await db?.close();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

/** An access token of `userId` (roles in the token are hints only: rules read live permissions). */
const tokenFor = (userId: string, extra: { sessionId?: string; roles?: string[] } = {}) =>
  signer.sign({
    userId,
    roles: extra.roles ?? ['member'],
    ...(extra.sessionId ? { sessionId: extra.sessionId } : {}),
  });

/** A real device session of `userId` and an access token bound to it. */
async function signedIn(userId: string) {
  const session = await sessions.createSession({ userId, ip: '198.51.100.20', userAgent: 'curl/8' });
  return { sessionId: session.sessionId, token: await tokenFor(userId, { sessionId: session.sessionId }) };
}

async function gql<T = Record<string, unknown>>(
  query: string,
  options: { token?: string; variables?: Record<string, unknown> } = {},
) {
  return postGraphQL<T>(url, query, options);
}

const errorOf = (body: { errors?: readonly { extensions?: Record<string, unknown> }[] }) =>
  body.errors?.[0]?.extensions;

const LIST = `query ($filter: AdminUserFilter, $first: Int, $after: String) {
  adminUsers(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface ListData {
  adminUsers: {
    edges: { cursor: string; node: { id: string } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

async function listIds(filter: Record<string, unknown>, token?: string): Promise<string[]> {
  const { body } = await gql<ListData>(LIST, {
    token: token ?? (await tokenFor(ids.support)),
    variables: { filter, first: 200 },
  });
  expect(body.errors).toBeUndefined();
  return body.data!.adminUsers.edges.map((edge) => edge.node.id);
}

async function auditRows(action: string, targetId: string) {
  return db.prisma.auditLog.findMany({ where: { action, targetId }, orderBy: { createdAt: 'asc' } });
}

describe('adminUsers', () => {
  it('is refused to anonymous callers and to members, and lists for users:read holders', async () => {
    const anonymous = await gql(LIST);
    expect(errorOf(anonymous.body)?.code).toBe('UNAUTHENTICATED');
    // A member whose token claims `admin` is still refused: permissions are read live.
    const member = await gql(LIST, { token: await tokenFor(ids.bob, { roles: ['admin'] }) });
    expect(member.body.data).toBeNull();
    expect(errorOf(member.body)?.code).toBe('FORBIDDEN');
    expect(await listIds({})).toEqual(listedNewestFirst);
  });

  it('pages with a keyset cursor: every user once, in order, across pages of 3', async () => {
    const token = await tokenFor(ids.admin);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const response: { body: { data?: ListData | null } } = await gql<ListData>(LIST, {
        token,
        variables: { first: 3, after },
      });
      const page: ListData['adminUsers'] = response.body.data!.adminUsers;
      seen.push(...page.edges.map((edge) => edge.node.id));
      pages += 1;
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(listedNewestFirst);
    expect(pages).toBe(Math.ceil(listedNewestFirst.length / 3));
  });

  it('refuses a forged cursor and an out-of-range page size', async () => {
    const token = await tokenFor(ids.admin);
    const forged = await gql(LIST, { token, variables: { after: 'bm90LWEtY3Vyc29y' } });
    expect(errorOf(forged.body)).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { reason: 'USER_CURSOR_INVALID' },
    });
    const tooMany = await gql(LIST, { token, variables: { first: 201 } });
    expect(errorOf(tooMany.body)).toMatchObject({ details: { reason: 'USER_FILTER_INVALID' } });
  });

  it('filters by status, role, verification, MFA and creation range', async () => {
    expect(await listIds({ status: 'SUSPENDED' })).toEqual([ids.suspended]);
    expect(await listIds({ status: 'DELETED' })).toEqual([]);
    expect(await listIds({ roleName: 'support' })).toEqual([ids.support]);
    expect(await listIds({ roleName: 'member' })).toEqual([ids.bob]);
    expect(await listIds({ emailVerified: false })).toEqual([ids.pending]);
    expect(await listIds({ mfaEnabled: true })).toEqual([ids.alice]);
    const alice = await db.prisma.user.findUniqueOrThrow({ where: { id: ids.alice } });
    const bob = await db.prisma.user.findUniqueOrThrow({ where: { id: ids.bob } });
    expect(
      await listIds({ createdFrom: alice.createdAt.toISOString(), createdTo: bob.createdAt.toISOString() }),
    ).toEqual([ids.alice]);
    expect(await listIds({ status: 'ACTIVE', mfaEnabled: false, search: 'bob' })).toEqual([ids.bob]);
  });

  it('searches email and display name case-insensitively, ids exactly, and LIKE wildcards literally', async () => {
    expect(await listIds({ search: 'WONDERLAND' })).toEqual([ids.alice]);
    expect(await listIds({ search: 'robert' })).toEqual([ids.bob]);
    expect(await listIds({ search: 'ALICE@example' })).toEqual([ids.alice]);
    expect(await listIds({ search: ids.pending })).toEqual([ids.pending]);
    expect(await listIds({ search: ids.pending.toUpperCase() })).toEqual([ids.pending]);
    // `_` and `%` are not wildcards: `under_score` does not match `underxscore`, `100%` only the literal.
    expect(await listIds({ search: 'under_score' })).toEqual([ids.underscore]);
    expect(await listIds({ search: '100%' })).toEqual([ids.percent]);
    expect(await listIds({ search: '%' })).toEqual([ids.percent]);
    expect(await listIds({ search: 'nobody-matches-this' })).toEqual([]);
  });

  it('gives users:read holders the admin fields of every user with one query per kind', async () => {
    const { sessionId } = await signedIn(ids.alice);
    const sql = recordSqlStatements(db.pool);
    let body;
    try {
      ({ body } = await gql<ListData>(
        `{ adminUsers(first: 50) { edges { node { id email mfaEnabled lastLoginAt lockedUntil
             sessions { id current } oauthAccounts { provider email } } } } }`,
        { token: await tokenFor(ids.support) },
      ));
      expect(sql.count('oauth_accounts')).toBe(1);
      expect(sql.count('sessions')).toBe(1);
    } finally {
      sql.restore();
    }
    expect(body.errors).toBeUndefined();
    const nodes = (
      body.data as unknown as {
        adminUsers: { edges: { node: Record<string, unknown> & { id: string } }[] };
      }
    ).adminUsers.edges.map((edge) => edge.node);
    expect(nodes.find((node) => node.id === ids.alice)).toEqual({
      id: ids.alice,
      email: 'alice@example.test',
      mfaEnabled: true,
      lastLoginAt: '2030-03-01T10:00:00.000Z',
      lockedUntil: null,
      sessions: [{ id: sessionId, current: false }],
      oauthAccounts: [{ provider: 'github', email: 'alice@gh.test' }],
    });
    expect(nodes.find((node) => node.id === ids.bob)).toMatchObject({ sessions: [], oauthAccounts: [] });
  });

  it("lets users read their own admin fields but not another user's", async () => {
    const token = await tokenFor(ids.alice);
    const own = await gql('{ me { mfaEnabled lastLoginAt oauthAccounts { provider } } }', { token });
    expect(own.body).toEqual({
      data: {
        me: {
          mfaEnabled: true,
          lastLoginAt: '2030-03-01T10:00:00.000Z',
          oauthAccounts: [{ provider: 'github' }],
        },
      },
    });
    // Through a federation reference, another user's sessions are refused like any of their fields.
    const entities = await gql(
      'query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { sessions { id } } } }',
      { token, variables: { reps: [{ __typename: 'User', id: ids.bob }] } },
    );
    expect(entities.body.data).toEqual({ _entities: [null] });
    expect(errorOf(entities.body)?.code).toBe('FORBIDDEN');
    const other = await gql('query ($id: ID!) { user(id: $id) { id } }', {
      token,
      variables: { id: ids.bob },
    });
    expect(errorOf(other.body)?.code).toBe('FORBIDDEN');
    // users:read (support) reaches other users through `user(id:)` too, live, whatever the token's roles.
    const support = await gql('query ($id: ID!) { user(id: $id) { id email mfaEnabled } }', {
      token: await tokenFor(ids.support),
      variables: { id: ids.alice },
    });
    expect(support.body).toEqual({
      data: { user: { id: ids.alice, email: 'alice@example.test', mfaEnabled: true } },
    });
  });
});

const SET_STATUS = `mutation ($userId: ID!, $status: AdminUserStatus!) {
  adminSetUserStatus(userId: $userId, status: $status) { id status }
}`;
const REVOKE = 'mutation ($userId: ID!) { adminRevokeSessions(userId: $userId) }';
const DELETE = 'mutation ($userId: ID!) { adminDeleteUser(userId: $userId) }';
const IMPERSONATE = `mutation ($userId: ID!, $reason: String!) {
  impersonate(userId: $userId, reason: $reason) { accessToken expiresAt sessionId user { id email } }
}`;

describe('admin mutations', () => {
  it('are refused to support (users:read without users:write)', async () => {
    const token = await tokenFor(ids.support, { roles: ['admin'] });
    for (const [query, variables] of [
      [SET_STATUS, { userId: ids.bob, status: 'SUSPENDED' }],
      [REVOKE, { userId: ids.bob }],
      [DELETE, { userId: ids.bob }],
      [IMPERSONATE, { userId: ids.bob, reason: 'ticket 42' }],
    ] as const) {
      const { body } = await gql(query, { token, variables });
      expect(errorOf(body)?.code).toBe('FORBIDDEN');
    }
    expect((await db.prisma.user.findUniqueOrThrow({ where: { id: ids.bob } })).status).toBe('ACTIVE');
  });

  it('suspends (ending every session at once, audited) and activates again', async () => {
    const device = await signedIn(ids.bob);
    expect((await gql('{ me { id } }', { token: device.token })).body).toEqual({
      data: { me: { id: ids.bob } },
    });

    const admin = await tokenFor(ids.admin);
    const suspended = await gql(SET_STATUS, {
      token: admin,
      variables: { userId: ids.bob, status: 'SUSPENDED' },
    });
    expect(suspended.body).toEqual({ data: { adminSetUserStatus: { id: ids.bob, status: 'SUSPENDED' } } });
    // The same access token fails on the very next request: its session was revoked.
    const after = await gql('{ me { id } }', { token: device.token });
    expect(after.status).toBe(401);
    expect(await sessions.listSessions(ids.bob)).toEqual([]);
    const [row] = await auditRows('USER_STATUS_CHANGED', ids.bob);
    expect(row).toMatchObject({
      actorUserId: ids.admin,
      impersonatorUserId: null,
      targetType: 'User',
      metadata: { from: 'ACTIVE', to: 'SUSPENDED', sessionsRevoked: 1, outcome: 'SUCCESS' },
    });

    const activated = await gql(SET_STATUS, {
      token: admin,
      variables: { userId: ids.bob, status: 'ACTIVE' },
    });
    expect(activated.body).toEqual({ data: { adminSetUserStatus: { id: ids.bob, status: 'ACTIVE' } } });
    expect(await auditRows('USER_STATUS_CHANGED', ids.bob)).toHaveLength(2);
  });

  it('refuses unknown users and acting on oneself', async () => {
    const admin = await tokenFor(ids.admin);
    const unknown = await gql(SET_STATUS, {
      token: admin,
      variables: { userId: '00000000-0000-4000-8000-000000000000', status: 'SUSPENDED' },
    });
    expect(errorOf(unknown.body)).toMatchObject({ code: 'NOT_FOUND', details: { reason: 'USER_NOT_FOUND' } });
    const self = await gql(DELETE, { token: admin, variables: { userId: ids.admin } });
    expect(errorOf(self.body)).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { reason: 'CANNOT_TARGET_SELF' },
    });
  });

  it('neither suspends nor deletes the last active administrator (issue #6)', async () => {
    // A user manager (users:write without admin) against the only administrator.
    const token = await tokenFor(ids.userAdmin);
    const suspend = await gql(SET_STATUS, { token, variables: { userId: ids.admin, status: 'SUSPENDED' } });
    expect(errorOf(suspend.body)).toMatchObject({ code: 'CONFLICT', details: { reason: 'LAST_ADMIN' } });
    const remove = await gql(DELETE, { token, variables: { userId: ids.admin } });
    expect(errorOf(remove.body)).toMatchObject({ code: 'CONFLICT', details: { reason: 'LAST_ADMIN' } });
    expect(await db.prisma.user.findUniqueOrThrow({ where: { id: ids.admin } })).toMatchObject({
      status: 'ACTIVE',
      deletedAt: null,
    });

    // With a second active administrator the first may be suspended (and activated again).
    const second = await db.prisma.user.create({
      data: { email: 'second-admin@example.test', status: 'ACTIVE', emailVerified: true },
    });
    await grantRole(db.prisma, second.id, 'admin');
    try {
      const suspended = await gql(SET_STATUS, {
        token,
        variables: { userId: ids.admin, status: 'SUSPENDED' },
      });
      // (The user manager may not read the returned user: only the change is checked.)
      expect(errorOf(suspended.body)?.details).toBeUndefined();
      expect((await db.prisma.user.findUniqueOrThrow({ where: { id: ids.admin } })).status).toBe('SUSPENDED');
      // Now `second` is the last active one.
      const refused = await gql(SET_STATUS, { token, variables: { userId: second.id, status: 'SUSPENDED' } });
      expect(errorOf(refused.body)).toMatchObject({ details: { reason: 'LAST_ADMIN' } });
      const activated = await gql(SET_STATUS, { token, variables: { userId: ids.admin, status: 'ACTIVE' } });
      expect(errorOf(activated.body)?.details).toBeUndefined();
      expect((await db.prisma.user.findUniqueOrThrow({ where: { id: ids.admin } })).status).toBe('ACTIVE');
    } finally {
      await db.prisma.user.update({ where: { id: ids.admin }, data: { status: 'ACTIVE' } });
      await db.prisma.user.delete({ where: { id: second.id } });
    }
  });

  it('revokes every session of a user and says how many', async () => {
    await signedIn(ids.pending);
    await signedIn(ids.pending);
    const { body } = await gql(REVOKE, {
      token: await tokenFor(ids.admin),
      variables: { userId: ids.pending },
    });
    expect(body).toEqual({ data: { adminRevokeSessions: 2 } });
    expect(await sessions.listSessions(ids.pending)).toEqual([]);
    expect(await auditRows('SESSIONS_REVOKED', ids.pending)).toEqual([
      expect.objectContaining({
        actorUserId: ids.admin,
        metadata: expect.objectContaining({ sessionsRevoked: 2 }),
      }),
    ]);
  });

  it('deletes a user without their password (the leaving flow), audited as the administrator', async () => {
    const device = await signedIn(ids.suspended);
    const { body } = await gql<{ adminDeleteUser: string }>(DELETE, {
      token: await tokenFor(ids.admin),
      variables: { userId: ids.suspended },
    });
    expect(body.errors).toBeUndefined();
    const purgeInDays = (Date.parse(body.data!.adminDeleteUser) - Date.now()) / 86_400_000;
    expect(purgeInDays).toBeGreaterThan(29.9);
    expect(purgeInDays).toBeLessThan(30.1);
    const user = await db.prisma.user.findUniqueOrThrow({ where: { id: ids.suspended } });
    expect(user).toMatchObject({ status: 'DELETED', deletedAt: expect.any(Date) });
    expect((await gql('{ me { id } }', { token: device.token })).status).toBe(401);
    expect(await auditRows('ACCOUNT_DELETED', ids.suspended)).toEqual([
      expect.objectContaining({
        actorUserId: ids.admin,
        metadata: expect.objectContaining({ byAdmin: true, sessionsRevoked: 1 }),
      }),
    ]);
    // Gone from the list, and a second delete finds nothing.
    expect(await listIds({ search: 'suspended@' })).toEqual([]);
    const again = await gql(DELETE, {
      token: await tokenFor(ids.admin),
      variables: { userId: ids.suspended },
    });
    expect(errorOf(again.body)?.code).toBe('NOT_FOUND');
  });
});

describe('impersonation', () => {
  async function impersonate(userId: string, reason = 'Support ticket #1234') {
    return gql<{
      impersonate: { accessToken: string; expiresAt: string; sessionId: string; user: { id: string } };
    }>(IMPERSONATE, { token: await tokenFor(ids.admin), variables: { userId, reason } });
  }

  it('issues a 15-minute token for the target, marked with the administrator, in its own session', async () => {
    const { body } = await impersonate(ids.alice);
    expect(body.errors).toBeUndefined();
    const started = body.data!.impersonate;
    expect(started.user).toEqual({ id: ids.alice, email: 'alice@example.test' });
    const claims = decodeJwt(started.accessToken);
    expect(claims).toMatchObject({ sub: ids.alice, act: { sub: ids.admin }, sid: started.sessionId });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(Date.parse(started.expiresAt) - Date.now()).toBeLessThanOrEqual(900_000);
    expect(body.data).not.toHaveProperty('impersonate.refreshToken');

    const me = await gql('{ me { id email } mySessions { id current } }', { token: started.accessToken });
    expect(me.body.errors).toBeUndefined();
    expect(me.body.data).toMatchObject({ me: { id: ids.alice } });
    expect(me.body.data?.mySessions).toContainEqual({ id: started.sessionId, current: true });
    const session = await db.prisma.session.findFirstOrThrow({ where: { familyId: started.sessionId } });
    expect(session.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(900_000);
    expect(await auditRows('IMPERSONATION_STARTED', ids.alice)).toEqual([
      expect.objectContaining({
        actorUserId: ids.admin,
        impersonatorUserId: null,
        metadata: expect.objectContaining({
          outcome: 'SUCCESS',
          sessionId: started.sessionId,
          justification: 'Support ticket #1234',
        }),
      }),
    ]);
  });

  it('refuses administrators, role managers, oneself, inactive users and a missing reason', async () => {
    for (const target of [ids.roleManager]) {
      const { body } = await impersonate(target);
      expect(errorOf(body)).toMatchObject({
        code: 'FORBIDDEN',
        details: { reason: 'IMPERSONATION_TARGET_FORBIDDEN' },
      });
    }
    const admin2 = await db.prisma.user.create({ data: { email: 'admin2@example.test', status: 'ACTIVE' } });
    await grantRole(db.prisma, admin2.id, 'admin');
    expect(errorOf((await impersonate(admin2.id)).body)).toMatchObject({
      details: { reason: 'IMPERSONATION_TARGET_FORBIDDEN' },
    });
    expect(errorOf((await impersonate(ids.admin)).body)).toMatchObject({
      details: { reason: 'CANNOT_TARGET_SELF' },
    });
    expect(errorOf((await impersonate(ids.pending)).body)).toMatchObject({
      details: { reason: 'IMPERSONATION_TARGET_INACTIVE' },
    });
    expect(errorOf((await impersonate(ids.bob, '  ')).body)).toMatchObject({
      details: { reason: 'IMPERSONATION_REASON_INVALID' },
    });
    expect(await auditRows('IMPERSONATION_STARTED', ids.roleManager)).toEqual([
      expect.objectContaining({ metadata: expect.objectContaining({ outcome: 'FAILURE' }) }),
    ]);
  });

  it('audits what the token does with the impersonator, refuses credential changes and ends at once', async () => {
    const started = (await impersonate(ids.alice)).body.data!.impersonate;
    const token = started.accessToken;
    const own = await signedIn(ids.alice);

    // Reading works: the token acts as the user.
    const me = await gql('{ me { id } }', { token });
    expect(me.body).toEqual({ data: { me: { id: ids.alice } } });

    // Issue #14: every mutation is refused while impersonating unless reviewed and allowed (endImpersonation):
    // signing the user out everywhere, credentials, account and admin mutations alike.
    const refused = [
      'mutation { revokeOtherSessions }',
      'mutation { changePassword(input: { currentPassword: "x", newPassword: "correct horse battery" }) { success } }',
      'mutation { deleteAccount(password: "x") }',
      'mutation { deactivateAccount(password: "x") }',
      'mutation { disableMfa(password: "x", code: "123456") }',
      'mutation { unlinkOAuthAccount(provider: "github") }',
      `mutation { impersonate(userId: "${ids.bob}", reason: "again please") { accessToken } }`,
      `mutation { adminRevokeSessions(userId: "${ids.bob}") }`,
    ];
    for (const mutation of refused) {
      const { body } = await gql(mutation, { token });
      expect({ mutation, error: errorOf(body) }).toEqual({
        mutation,
        error: { code: 'FORBIDDEN', details: { reason: 'IMPERSONATION_FORBIDDEN' } },
      });
    }

    // The user's own session survived the attempt to sign them out everywhere.
    expect(
      await db.prisma.session.count({ where: { familyId: own.sessionId, revokedAt: null } }),
    ).toBeGreaterThan(0);
    expect(
      await db.prisma.auditLog.count({
        where: { action: 'SESSIONS_REVOKED', actorUserId: ids.alice, impersonatorUserId: ids.admin },
      }),
    ).toBe(0);

    const ended = await gql('mutation { endImpersonation }', { token });
    expect(ended.body).toEqual({ data: { endImpersonation: true } });
    const afterEnd = await gql('{ me { id } }', { token });
    expect(afterEnd.status).toBe(401);
    expect(await auditRows('IMPERSONATION_ENDED', ids.alice)).toEqual([
      expect.objectContaining({
        actorUserId: ids.alice,
        impersonatorUserId: ids.admin,
        metadata: expect.objectContaining({ sessionId: started.sessionId }),
      }),
    ]);
  });

  it('keeps even a users:write target from using admin mutations through the token', async () => {
    const started = (await impersonate(ids.userAdmin)).body.data!.impersonate;
    // The target could do this themselves; the impersonation token cannot.
    const { body } = await gql(REVOKE, { token: started.accessToken, variables: { userId: ids.bob } });
    expect(errorOf(body)).toMatchObject({ details: { reason: 'IMPERSONATION_FORBIDDEN' } });
    const own = await gql(REVOKE, { token: await tokenFor(ids.userAdmin), variables: { userId: ids.bob } });
    expect(own.body.errors).toBeUndefined();
  });

  it('endImpersonation is refused to ordinary tokens', async () => {
    const { body } = await gql('mutation { endImpersonation }', { token: await tokenFor(ids.admin) });
    expect(errorOf(body)).toMatchObject({ code: 'FORBIDDEN', details: { reason: 'NOT_IMPERSONATING' } });
  });
});
