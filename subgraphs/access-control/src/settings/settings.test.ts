// Issue #6: platform settings and feature flags through the access-control subgraph (real HTTP, PostgreSQL and,
// with REDIS_URL, Redis), including a second "process" that reads settings through its own store.
import { randomUUID } from 'node:crypto';
import { seed } from '@gatehouse/db';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createSettingsStore, rolloutBucket, type SettingsStore } from '@gatehouse/settings';
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
  redisUrlForTests,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
} from '@gatehouse/testing';
import { createApp } from '../app';

const { verifier, tokenFor } = createTestAuth();
const redisUrl = redisUrlForTests('@gatehouse/subgraph-access-control settings');
const redisPrefix = uniqueTestPrefix();

let db: TestDatabase;
let subgraph: TestSubgraph;
const kvs: KeyValueStore[] = [];
const buses: EventBus[] = [];
let otherProcess: SettingsStore;
let adminId = '';
let memberId = '';

const newKv = () => {
  const kv = redisUrl
    ? createKeyValueStore({ redisUrl, prefix: `${redisPrefix}:kv` })
    : new MemoryKeyValueStore();
  kvs.push(kv);
  return kv;
};

beforeAll(async () => {
  db = await createTestDatabase();
  adminId = (
    await seed(db.prisma, {
      adminEmail: 'admin@example.test',
      adminPassword: 'not-used-in-this-test',
      hashPassword: async () => 'not-a-real-hash',
    })
  ).admin.id;
  const member = await db.prisma.role.findUniqueOrThrow({ where: { name: 'member' } });
  memberId = (await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } })).id;
  await db.prisma.userRole.create({ data: { userId: memberId, roleId: member.id } });

  // In-process, both "processes" must share one bus; on Redis each has its own connection.
  const sharedBus = createEventBus(redisUrl ? { redisUrl, prefix: `${redisPrefix}:bus` } : {});
  const otherBus = redisUrl ? createEventBus({ redisUrl, prefix: `${redisPrefix}:bus` }) : sharedBus;
  buses.push(...new Set([sharedBus, otherBus]));
  const kv = newKv();
  subgraph = await startTestSubgraph({
    name: 'access-control',
    createApp: (deps) => createApp({ ...deps, kv, events: sharedBus }),
    prisma: db.prisma,
    verifier,
  });
  otherProcess = createSettingsStore({ prisma: db.prisma, kv: redisUrl ? newKv() : kv, events: otherBus });
  await otherProcess.ready;
});

afterAll(async () => {
  await subgraph?.stop();
  await otherProcess?.close();
  for (const bus of buses) await bus.close();
  for (const kv of kvs) await kv.close();
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

async function gql(
  query: string,
  variables: Record<string, unknown> = {},
  as: 'admin' | 'member' | 'anonymous' = 'admin',
): Promise<GraphQLTestResponse['body']> {
  const token =
    as === 'anonymous'
      ? undefined
      : await tokenFor(as === 'admin' ? adminId : memberId, [as === 'admin' ? 'admin' : 'member']);
  return (await postGraphQL(subgraph.url, query, { variables, ...(token ? { token } : {}) })).body;
}

function failureOf(body: GraphQLTestResponse['body']): string {
  const extensions = body.errors?.[0]?.extensions;
  if (!extensions) throw new Error(`expected an error, got ${JSON.stringify(body.data)}`);
  const reason = (extensions.details as { reason?: string } | undefined)?.reason ?? '-';
  return `${String(extensions.code)}/${reason}`;
}

const SETTINGS = '{ settings { key value defaultValue description category version updatedAt } }';
const UPDATE = `mutation ($key: String!, $value: String!) {
  updateSetting(key: $key, value: $value) { key value version updatedAt }
}`;
const SET_FLAG = `mutation ($key: String!, $input: FeatureFlagInput!) {
  setFeatureFlag(key: $key, input: $input) { key enabled rolloutPercent userIds description version }
}`;
const FLAG = 'query ($key: String!) { featureFlag(key: $key) { key enabled } }';

describe('settings', () => {
  it('lists every setting with its default for settings managers', async () => {
    const body = await gql(SETTINGS);
    expect(body.errors).toBeUndefined();
    const settings = body.data?.settings as { key: string; value: string; version: number }[];
    expect(settings.find((s) => s.key === 'security.passwordMinLength')).toEqual({
      key: 'security.passwordMinLength',
      value: '12',
      defaultValue: '12',
      description: expect.any(String),
      category: 'SECURITY',
      version: 0,
      updatedAt: null,
    });
  });

  it('updates a setting (JSON text), versioned, and another process reads it at once', async () => {
    await expect(otherProcess.get('security.lockout')).resolves.toMatchObject({ maxFailures: 5 });
    const value = JSON.stringify({ maxFailures: 3, windowSeconds: 300, lockSeconds: 600 });
    const body = await gql(UPDATE, { key: 'security.lockout', value });
    expect(body.errors).toBeUndefined();
    expect(body.data?.updateSetting).toMatchObject({ key: 'security.lockout', value, version: 1 });
    await waitFor(async () => (await otherProcess.get('security.lockout')).maxFailures === 3, {
      what: 'the other process to see the new lockout',
    });
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: 'SETTING_CHANGED', targetId: 'security.lockout' },
    });
    expect(audit).toMatchObject({ actorUserId: adminId, targetType: 'Setting' });
    expect(audit.metadata).toMatchObject({
      version: 1,
      previous: { maxFailures: 5 },
      value: { maxFailures: 3 },
    });
  });

  it('refuses unknown keys, text that is not JSON and invalid values', async () => {
    expect(failureOf(await gql(UPDATE, { key: 'nope', value: '1' }))).toBe('BAD_USER_INPUT/SETTING_UNKNOWN');
    expect(failureOf(await gql(UPDATE, { key: 'security.passwordMinLength', value: '{oops' }))).toBe(
      'BAD_USER_INPUT/SETTING_INVALID',
    );
    const invalid = await gql(UPDATE, { key: 'security.passwordMinLength', value: '3' });
    expect(failureOf(invalid)).toBe('BAD_USER_INPUT/SETTING_INVALID');
    expect((invalid.errors?.[0]?.extensions?.details as { issues: unknown[] }).issues).toHaveLength(1);
    await expect(otherProcess.get('security.passwordMinLength')).resolves.toBe(12);
  });
});

describe('feature flags', () => {
  it('lets settings managers configure flags and any signed-in user evaluate them for themselves', async () => {
    const body = await gql(SET_FLAG, {
      key: 'ui.new-dashboard',
      input: { enabled: true, rolloutPercent: 50, description: 'New dashboard' },
    });
    expect(body.errors).toBeUndefined();
    expect(body.data?.setFeatureFlag).toEqual({
      key: 'ui.new-dashboard',
      enabled: true,
      rolloutPercent: 50,
      userIds: [],
      description: 'New dashboard',
      version: 1,
    });
    const evaluated = await gql(FLAG, { key: 'ui.new-dashboard' }, 'member');
    expect(evaluated.data?.featureFlag).toEqual({
      key: 'ui.new-dashboard',
      enabled: rolloutBucket('ui.new-dashboard', memberId) < 50,
    });
    await gql(SET_FLAG, {
      key: 'ui.new-dashboard',
      input: { enabled: true, rolloutPercent: 0, userIds: [memberId] },
    });
    expect((await gql(FLAG, { key: 'ui.new-dashboard' }, 'member')).data?.featureFlag).toEqual({
      key: 'ui.new-dashboard',
      enabled: true,
    });
    expect((await gql(FLAG, { key: 'no-such-flag' }, 'member')).data?.featureFlag).toEqual({
      key: 'no-such-flag',
      enabled: false,
    });
    const flags = await gql('{ featureFlags { key version userIds } }');
    expect(flags.data?.featureFlags).toEqual([{ key: 'ui.new-dashboard', version: 2, userIds: [memberId] }]);
    expect(
      failureOf(await gql(SET_FLAG, { key: 'Bad Key', input: { enabled: true, rolloutPercent: 5 } })),
    ).toBe('BAD_USER_INPUT/FEATURE_FLAG_INVALID');
  });
});

describe('rules', () => {
  it('refuses members everything but evaluating a flag, and anonymous callers everything', async () => {
    const operations: [string, Record<string, unknown>][] = [
      [SETTINGS, {}],
      ['{ featureFlags { key } }', {}],
      [UPDATE, { key: 'security.passwordMinLength', value: '20' }],
      [SET_FLAG, { key: 'x', input: { enabled: true, rolloutPercent: 100 } }],
    ];
    for (const [query, variables] of operations) {
      expect(failureOf(await gql(query, variables, 'member'))).toBe('FORBIDDEN/-');
      expect(failureOf(await gql(query, variables, 'anonymous'))).toBe('UNAUTHENTICATED/-');
    }
    expect(failureOf(await gql(FLAG, { key: 'x' }, 'anonymous'))).toBe('UNAUTHENTICATED/-');
    await expect(otherProcess.get('security.passwordMinLength')).resolves.toBe(12);
    expect(await db.prisma.featureFlag.count({ where: { key: 'x' } })).toBe(0);
  });
});
