import { createTestDatabase, recordSqlStatements, testSecrets, type TestDatabase } from '@gatehouse/testing';
import {
  createTestAuth,
  postGraphQL,
  startTestSubgraph,
  type TestSubgraph,
} from '@gatehouse/service/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { createEffectivePermissions, createServiceKit } from '@gatehouse/service';
import { createApp } from './app';
import { createAccountServices } from './runtime';

const { verifier, tokenFor } = createTestAuth();

let db: TestDatabase;
let subgraph: TestSubgraph;
let graphqlUrl: string;
let storageDir: string;
let closeServices: () => Promise<void>;
const ids = { alice: '', bob: '', carol: '', readerGrant: '' };
/** The store the app's live permissions are cached in (access-control invalidates it on role changes). */
const kv = new MemoryKeyValueStore();

beforeAll(async () => {
  db = await createTestDatabase();
  const create = (email: string) => db.prisma.user.create({ data: { email, status: 'ACTIVE' } });
  ids.alice = (await create('alice@example.test')).id;
  ids.bob = (await create('bob@example.test')).id;
  ids.carol = (await create('carol@example.test')).id;
  // Carol reads other users' accounts through a role granting `users:read` (her token only says `member`).
  const usersRead = await db.prisma.permission.upsert({
    where: { key: 'users:read' },
    create: { key: 'users:read', description: 'Read any user account' },
    update: {},
  });
  const reader = await db.prisma.role.create({
    data: { name: 'account-test-reader', permissions: { create: { permissionId: usersRead.id } } },
  });
  ids.readerGrant = (await db.prisma.userRole.create({ data: { userId: ids.carol, roleId: reader.id } })).id;
  await db.prisma.userProfile.create({
    data: { userId: ids.alice, displayName: 'Alice', locale: 'en-GB', timezone: 'Europe/London', bio: 'Hi' },
  });
  await db.prisma.userProfile.create({
    data: { userId: ids.bob, displayName: 'Bob', avatarUrl: 'https://img/b.png' },
  });

  storageDir = await mkdtemp(join(tmpdir(), 'gatehouse-account-test-'));
  const logger = createLogger({ name: 'account-test', level: 'silent' });
  const kit = createServiceKit({
    prisma: db.prisma,
    logger,
    kv,
    env: { NODE_ENV: 'test', ...testSecrets(), STORAGE_DIR: storageDir },
  });
  const account = createAccountServices({ prisma: db.prisma, logger, kv, kit });
  closeServices = async () => {
    await account.close();
    await kit.close();
  };
  subgraph = await startTestSubgraph({
    name: 'account',
    createApp: (deps) => createApp({ ...deps, account: account.services, kv }),
    prisma: db.prisma,
    verifier,
  });
  graphqlUrl = subgraph.url;
});

afterAll(async () => {
  await subgraph?.stop();
  await closeServices?.();
  await db?.close();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

const entitiesQuery = `query ($reps: [_Any!]!) {
  _entities(representations: $reps) { ... on User { id profile { displayName avatarUrl locale timezone bio } } }
}`;
const reps = () => [ids.alice, ids.bob, ids.carol].map((id) => ({ __typename: 'User', id }));

describe('User.profile', () => {
  it('loads the profiles of N users with one query', async () => {
    const sql = recordSqlStatements(db.pool);
    try {
      const { body } = await postGraphQL(graphqlUrl, entitiesQuery, {
        variables: { reps: reps() },
        token: await tokenFor(ids.carol),
      });
      expect(body.errors).toBeUndefined();
      expect(body.data?._entities).toEqual([
        {
          id: ids.alice,
          profile: {
            displayName: 'Alice',
            avatarUrl: null,
            locale: 'en-GB',
            timezone: 'Europe/London',
            bio: 'Hi',
          },
        },
        {
          id: ids.bob,
          profile: {
            displayName: 'Bob',
            avatarUrl: 'https://img/b.png',
            locale: null,
            timezone: null,
            bio: null,
          },
        },
        // A user who never edited a profile has an empty one.
        {
          id: ids.carol,
          profile: { displayName: null, avatarUrl: null, locale: null, timezone: null, bio: null },
        },
      ]);
      expect(sql.count('user_profiles')).toBe(1);
    } finally {
      sql.restore();
    }
  });

  it("lets users read their own profile but not other users' profiles", async () => {
    const { body } = await postGraphQL(graphqlUrl, entitiesQuery, {
      variables: { reps: reps() },
      token: await tokenFor(ids.bob),
    });
    expect(body.data?._entities).toEqual([
      null,
      {
        id: ids.bob,
        profile: {
          displayName: 'Bob',
          avatarUrl: 'https://img/b.png',
          locale: null,
          timezone: null,
          bio: null,
        },
      },
      null,
    ]);
    // Every selected field of the two foreign users (id and profile) is refused.
    const refused = body.errors?.map((e) => [e.path?.[1], e.path?.[2], e.extensions?.code]);
    expect(refused?.sort()).toEqual([
      [0, 'id', 'FORBIDDEN'],
      [0, 'profile', 'FORBIDDEN'],
      [2, 'id', 'FORBIDDEN'],
      [2, 'profile', 'FORBIDDEN'],
    ]);
  });

  it('tells anonymous callers to authenticate', async () => {
    const { body } = await postGraphQL(graphqlUrl, entitiesQuery, {
      variables: { reps: reps().slice(0, 1) },
    });
    expect(body.data?._entities).toEqual([null]);
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED' });
  });

  it('ignores malformed ids instead of failing the query', async () => {
    const { body } = await postGraphQL(graphqlUrl, entitiesQuery, {
      variables: { reps: [{ __typename: 'User', id: 'nope' }] },
      token: await tokenFor(ids.carol),
    });
    expect(body).toEqual({ data: { _entities: [{ id: 'nope', profile: null }] } });
  });
});

describe('live permissions', () => {
  const query = `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id profile { displayName } } } }`;

  // Last in the file: it takes Carol's `users:read` away.
  it("stops reading another user's profile at once when `users:read` is removed (issue #6)", async () => {
    const variables = { reps: [{ __typename: 'User', id: ids.alice }] };
    const token = await tokenFor(ids.carol);
    const before = await postGraphQL(graphqlUrl, query, { variables, token });
    expect(before.body.data?._entities).toEqual([{ id: ids.alice, profile: { displayName: 'Alice' } }]);

    // What access-control does on removeRole: delete the grant, then invalidate the user's cached set.
    await db.prisma.userRole.delete({ where: { id: ids.readerGrant } });
    await createEffectivePermissions({ prisma: db.prisma, kv }).invalidateUsers([ids.carol]);

    // The same, still valid token.
    const after = await postGraphQL(graphqlUrl, query, { variables, token });
    expect(after.body.data?._entities).toEqual([null]);
    expect(after.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });
});
