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
const ids = { alice: '', bob: '', carol: '' };

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
  const create = (email: string) => db.prisma.user.create({ data: { email, status: 'ACTIVE' } });
  ids.alice = (await create('alice@example.test')).id;
  ids.bob = (await create('bob@example.test')).id;
  ids.carol = (await create('carol@example.test')).id;
  await db.prisma.userProfile.create({
    data: { userId: ids.alice, displayName: 'Alice', locale: 'en-GB', timezone: 'Europe/London', bio: 'Hi' },
  });
  await db.prisma.userProfile.create({
    data: { userId: ids.bob, displayName: 'Bob', avatarUrl: 'https://img/b.png' },
  });

  const logger = createLogger({ name: 'account-test', level: 'silent' });
  const app = createApp({ prisma: db.prisma, logger, verifier, production: false });
  service = await startHttpService({
    name: 'account',
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
const entitiesQuery = `query ($reps: [_Any!]!) {
  _entities(representations: $reps) { ... on User { id profile { displayName avatarUrl locale timezone bio } } }
}`;
const reps = () => [ids.alice, ids.bob, ids.carol].map((id) => ({ __typename: 'User', id }));

describe('User.profile', () => {
  it('loads the profiles of N users with one query', async () => {
    const queries = countQueriesOn('user_profiles');
    try {
      const { body } = await postGraphQL(graphqlUrl, entitiesQuery, {
        variables: { reps: reps() },
        token: await tokenFor(ids.carol, ['admin']),
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
        { id: ids.carol, profile: null },
      ]);
      expect(queries.count()).toBe(1);
    } finally {
      queries.restore();
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
      token: await tokenFor(ids.carol, ['admin']),
    });
    expect(body).toEqual({ data: { _entities: [{ id: 'nope', profile: null }] } });
  });
});
