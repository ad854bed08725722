// Issue #6: identity reads its runtime settings per use: an administrator's change (made through another
// process's store, announced on the bus) applies to the next sign-in without a restart; never-stored settings
// keep the environment's values. Real PostgreSQL, and Redis (store, bus, queue) when REDIS_URL is set.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPasswordHasher } from '@gatehouse/crypto';
import { seed } from '@gatehouse/db';
import { AppError } from '@gatehouse/errors';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import type { OutboxEntry } from '@gatehouse/mail';
import { createServiceKit } from '@gatehouse/service';
import { generateRsaKeyPair, TEST_TOKEN_AUDIENCE } from '@gatehouse/service/testing';
import {
  createSettingsStore,
  type SettingKey,
  type SettingsActor,
  type SettingsStore,
  type SettingValue,
} from '@gatehouse/settings';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
  testSecrets,
} from '@gatehouse/testing';
import { loadIdentityConfig } from '../config';
import { createIdentityServices, type IdentityServices } from '../runtime';
import type { ClientInfo } from '../client-info';

jest.setTimeout(60_000);

const redisUrl = redisUrlForTests('@gatehouse/subgraph-identity settings');
const redisPrefix = uniqueTestPrefix();
const logger = createLogger({ name: 'identity-settings-test', level: 'silent' });
const keys = generateRsaKeyPair();
const PASSWORD = 'correct horse battery staple 42';
const client: ClientInfo = { ip: '203.0.113.5', userAgent: 'settings-test', requestId: 'req-settings' };

let db: TestDatabase;
let tempDir: string;
let identity: IdentityServices;
let closeIdentity: () => Promise<void>;
/** The store identity reads (passed in, so the test can wait until an invalidation reached it). */
let identityStore: SettingsStore;
/** Another process's store (access-control's admin API): its changes reach identity through the bus. */
let adminStore: SettingsStore;
const buses: EventBus[] = [];
let kv: KeyValueStore;
let actor: SettingsActor;
let memberRoleId = '';
let supportRoleId = '';
let passwordHash = '';

/** Stores a setting as an administrator would, then waits until identity's own store answers with it. */
async function change<K extends SettingKey>(key: K, value: SettingValue<K>) {
  await adminStore.set(key, value, actor);
  await waitFor(
    async () => JSON.stringify(await identityStore.getStored(key)) === JSON.stringify(value) || undefined,
    { what: `identity to see ${key}` },
  );
}

let counter = 0;
async function newUser(roleIds: string[] = [memberRoleId]): Promise<{ id: string; email: string }> {
  const email = `settings-${++counter}-${redisPrefix.slice(-6)}@example.test`.toLowerCase();
  const user = await db.prisma.user.create({
    data: { email, status: 'ACTIVE', emailVerified: true, passwordHash },
  });
  for (const roleId of roleIds) await db.prisma.userRole.create({ data: { userId: user.id, roleId } });
  return { id: user.id, email };
}

async function reasonOf(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return (error.details as { reason?: unknown } | undefined)?.reason;
}

const lockedUntil = async (userId: string) =>
  (await db.prisma.user.findUniqueOrThrow({ where: { id: userId } })).lockedUntil;

beforeAll(async () => {
  db = await createTestDatabase();
  const summary = await seed(db.prisma, {
    adminEmail: 'root@example.test',
    adminPassword: 'unused password for the seed',
    hashPassword: async () => 'not-a-real-hash',
  });
  actor = { actorUserId: summary.admin.id, requestId: 'req-admin' };
  memberRoleId = (await db.prisma.role.findUniqueOrThrow({ where: { name: 'member' } })).id;
  supportRoleId = (await db.prisma.role.findUniqueOrThrow({ where: { name: 'support' } })).id;

  tempDir = await mkdtemp(join(tmpdir(), 'gatehouse-identity-settings-'));
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
    LOGIN_MAX_FAILURES: '4',
    NEW_SIGN_IN_ALERT_DAYS: '0',
    // Configured, never reached: these tests stop before the provider's discovery document is needed.
    GOOGLE_CLIENT_ID: 'google-client',
    GOOGLE_CLIENT_SECRET: 'google-secret',
    GITHUB_CLIENT_ID: 'github-client',
    GITHUB_CLIENT_SECRET: 'github-secret',
    OAUTH_CALLBACK_BASE_URL: 'http://127.0.0.1:1',
    OAUTH_REDIRECT_ALLOWLIST: 'http://app.test/oauth/done',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  };
  const config = loadIdentityConfig(env);
  passwordHash = await createPasswordHasher({
    memoryCost: config.crypto.ARGON2_MEMORY_KIB,
    timeCost: config.crypto.ARGON2_TIME_COST,
    parallelism: config.crypto.ARGON2_PARALLELISM,
  }).hash(PASSWORD);

  // Two processes: on Redis each has its own bus connection; in-process they share one bus, as one process would.
  const identityBus = createEventBus(redisUrl ? { redisUrl, prefix: redisPrefix } : {});
  const adminBus = redisUrl ? createEventBus({ redisUrl, prefix: redisPrefix }) : identityBus;
  buses.push(...new Set([identityBus, adminBus]));
  kv = redisUrl ? createKeyValueStore({ redisUrl, prefix: redisPrefix }) : new MemoryKeyValueStore();
  const kit = createServiceKit({
    prisma: db.prisma,
    logger,
    kv,
    env,
    redisPrefix,
    shared: { events: identityBus },
  });
  identityStore = kit.settings;
  const started = await createIdentityServices({ prisma: db.prisma, logger, config, kv, kit });
  identity = started.services;
  closeIdentity = async () => {
    await started.close();
    await kit.close(); // identityStore with it
  };
  adminStore = createSettingsStore({ prisma: db.prisma, kv, events: adminBus });
  await Promise.all([identityStore.ready, adminStore.ready]);
});

afterAll(async () => {
  await closeIdentity?.();
  await adminStore?.close();
  for (const bus of buses) await bus.close();
  await kv?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
  await db?.close();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

describe('security.lockout', () => {
  it('keeps LOGIN_MAX_FAILURES while never stored, then applies a stored threshold to the next sign-in', async () => {
    const user = await newUser();
    for (let attempt = 1; attempt <= 3; attempt++) {
      await expect(
        reasonOf(identity.signIn.login({ email: user.email, password: 'wrong' }, client)),
      ).resolves.toBe('INVALID_CREDENTIALS');
    }
    // Three failures, environment threshold 4: not locked yet; the fourth locks (the registry default, 5, would not).
    expect(await lockedUntil(user.id)).toBeNull();
    await reasonOf(identity.signIn.login({ email: user.email, password: 'wrong' }, client));
    expect(await lockedUntil(user.id)).not.toBeNull();

    const other = await newUser();
    await reasonOf(identity.signIn.login({ email: other.email, password: 'wrong' }, client));
    await change('security.lockout', { maxFailures: 2, windowSeconds: 600, lockSeconds: 120 });
    await reasonOf(identity.signIn.login({ email: other.email, password: 'wrong' }, client));
    const until = await lockedUntil(other.id);
    expect(until).not.toBeNull();
    // lockSeconds from the setting (120 s), not LOGIN_LOCK_SECONDS (900 s).
    expect(until!.getTime() - Date.now()).toBeLessThanOrEqual(120_000);
    expect(until!.getTime() - Date.now()).toBeGreaterThan(60_000);
    // Locked: even the right password answers like a wrong one.
    await expect(
      reasonOf(identity.signIn.login({ email: other.email, password: PASSWORD }, client)),
    ).resolves.toBe('INVALID_CREDENTIALS');
  });
});

describe('email.templates.*', () => {
  it('applies an override to the next mail the worker renders', async () => {
    await change('email.templates.account-locked', {
      subject: 'Sign-ins paused',
      intro: 'We paused sign-ins to your account after several wrong passwords.',
    });
    // security.lockout is 2 failures since the test above.
    const user = await newUser();
    await reasonOf(identity.signIn.login({ email: user.email, password: 'wrong' }, client));
    await reasonOf(identity.signIn.login({ email: user.email, password: 'wrong' }, client));
    const outbox = join(tempDir, 'outbox');
    const mail = await waitFor(
      async () => {
        const files = (await readdir(outbox).catch(() => [])).filter((name) => name.endsWith('.json'));
        for (const name of files) {
          const entry = JSON.parse(await readFile(join(outbox, name), 'utf8')) as OutboxEntry;
          if (entry.to.includes(user.email)) return entry;
        }
        return undefined;
      },
      { timeoutMs: 15_000, what: 'the lock mail in the outbox' },
    );
    expect(mail.subject).toBe('Sign-ins paused');
    expect(mail.text).toContain('We paused sign-ins to your account after several wrong passwords.');
  });
});

describe('security.passwordMinLength', () => {
  const NINETEEN = 'zebra Quartz 9 mint'; // strong enough, 19 characters

  it('judges sign-up passwords by the stored minimum', async () => {
    const register = (email: string) =>
      identity.registration.register({ email, password: NINETEEN, name: 'Len' }, client);
    await expect(register('len-one@example.test')).resolves.toEqual({ accepted: true, fieldErrors: [] });
    await change('security.passwordMinLength', 20);
    const refused = await register('len-two@example.test');
    expect(refused.accepted).toBe(false);
    expect(refused.fieldErrors).toEqual([
      expect.objectContaining({
        field: 'password',
        code: 'PASSWORD_TOO_SHORT',
        message: expect.stringContaining('20'),
      }),
    ]);
  });
});

describe('security.mfaRequiredRoles', () => {
  it('refuses a holder of a listed role without a second factor, and only them', async () => {
    const support = await newUser([memberRoleId, supportRoleId]);
    const member = await newUser();
    await expect(
      identity.signIn.login({ email: support.email, password: PASSWORD }, client),
    ).resolves.toHaveProperty('tokens');
    await change('security.mfaRequiredRoles', ['support']);
    await expect(
      reasonOf(identity.signIn.login({ email: support.email, password: PASSWORD }, client)),
    ).resolves.toBe('MFA_SETUP_REQUIRED');
    await expect(
      identity.signIn.login({ email: member.email, password: PASSWORD }, client),
    ).resolves.toHaveProperty('tokens');
    const audit = await db.prisma.auditLog.findFirst({
      where: { action: 'LOGIN_FAILED', targetId: support.id },
      orderBy: { createdAt: 'desc' },
    });
    expect(audit?.metadata).toMatchObject({ reason: 'MFA_SETUP_REQUIRED', role: 'support' });
  });
});

describe('oauth.providers', () => {
  it('offers every configured provider while never stored, and neither offers nor starts a switched-off one', async () => {
    expect((await identity.oauth.providers()).map((p) => p.key)).toEqual(['google', 'github']);
    await change('oauth.providers', {
      google: { enabled: false, allowedEmailDomains: [] },
      github: { enabled: true, allowedEmailDomains: ['example.test'] },
      microsoft: { enabled: false, allowedEmailDomains: [] },
      apple: { enabled: false, allowedEmailDomains: [] },
    });
    expect((await identity.oauth.providers()).map((p) => p.key)).toEqual(['github']);
    await expect(
      reasonOf(
        identity.oauth.start({
          provider: 'google',
          redirectUri: 'http://app.test/oauth/done',
          binding: 'client',
        }),
      ),
    ).resolves.toBe('OAUTH_PROVIDER_UNAVAILABLE');
    // GitHub needs no discovery: its start succeeds without any network.
    await expect(
      identity.oauth.start({
        provider: 'github',
        redirectUri: 'http://app.test/oauth/done',
        binding: 'client',
      }),
    ).resolves.toHaveProperty('authorizationUrl');
  });
});
