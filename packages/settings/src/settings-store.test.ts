// Issue #6: runtime settings and feature flags against real PostgreSQL, with the shared cache and the bus both
// in-process and (with REDIS_URL) on Redis. Two stores stand for two processes.
import { randomUUID } from 'node:crypto';
import { AppError } from '@gatehouse/errors';
import { createEventBus, MemoryEventBus, type EventBus } from '@gatehouse/events';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { MAIL_TEMPLATE_NAMES } from '@gatehouse/mail';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
} from '@gatehouse/testing';
import { rolloutBucket } from './feature-flags';
import { OVERRIDABLE_EMAIL_TEMPLATES, SETTINGS, type SettingKey } from './registry';
import { createSettingsStore, type SettingsActor, type SettingsStore } from './settings-store';

const redisUrl = redisUrlForTests('@gatehouse/settings');
const redisPrefix = uniqueTestPrefix();

afterAll(async () => {
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

async function failure(
  promise: Promise<unknown>,
): Promise<{ code: string; reason: unknown; issues: unknown }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  const details = error.details as { reason?: unknown; issues?: unknown } | undefined;
  return { code: error.code, reason: details?.reason, issues: details?.issues };
}

it('offers an e-mail override for every mail template', () => {
  expect([...OVERRIDABLE_EMAIL_TEMPLATES].sort()).toEqual([...MAIL_TEMPLATE_NAMES].sort());
});

/** One "process": its own KV client and bus connection (in-process backends are shared, as in one process). */
interface Backend {
  name: string;
  kv(): KeyValueStore;
  bus(): EventBus;
}

const memoryKv = new MemoryKeyValueStore();
const memoryBus = new MemoryEventBus();
const backends: Backend[] = [{ name: 'in-process', kv: () => memoryKv, bus: () => memoryBus }];
if (redisUrl) {
  backends.push({
    name: 'Redis',
    kv: () => createKeyValueStore({ redisUrl, prefix: `${redisPrefix}:kv` }),
    bus: () => createEventBus({ redisUrl, prefix: `${redisPrefix}:bus` }),
  });
}

describe.each(backends)('settings store ($name)', (backend) => {
  let db: TestDatabase;
  let actor: SettingsActor;
  const opened: { kv: KeyValueStore; bus: EventBus; store: SettingsStore }[] = [];
  let clock = Date.now();

  /** A store as one process would build it; `events: false` leaves the bus out. */
  async function openStore(options: { events?: boolean; ttlSeconds?: number } = {}): Promise<SettingsStore> {
    const kv = backend.kv();
    const bus = backend.bus();
    const store = createSettingsStore({
      prisma: db.prisma,
      kv,
      ...(options.events === false ? {} : { events: bus }),
      ...(options.ttlSeconds ? { ttlSeconds: options.ttlSeconds } : {}),
      now: () => clock,
      onCacheError: (error) => {
        throw error;
      },
    });
    await store.ready;
    opened.push({ kv, bus, store });
    return store;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const admin = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
    actor = { actorUserId: admin.id, requestId: 'req-1', ip: '203.0.113.9' };
  });

  afterAll(async () => {
    for (const { store, kv, bus } of opened) {
      await store.close();
      if (kv !== memoryKv) await kv.close();
      if (bus !== memoryBus) await bus.close();
    }
    await db?.close();
  });

  const auditRows = (action: string, key: string) =>
    db.prisma.auditLog.findMany({
      where: { action, targetId: key },
      orderBy: { createdAt: 'asc' },
    });

  describe('values', () => {
    it('returns the default of a setting never set, and lists every registered key', async () => {
      const store = await openStore();
      await expect(store.get('security.passwordMinLength')).resolves.toBe(12);
      await expect(store.get('email.templates.welcome')).resolves.toEqual({});
      const list = await store.list();
      expect(list.map((s) => s.key)).toEqual(Object.keys(SETTINGS));
      expect(list.find((s) => s.key === 'security.lockout')).toEqual({
        key: 'security.lockout',
        value: { maxFailures: 5, windowSeconds: 900, lockSeconds: 900 },
        defaultValue: { maxFailures: 5, windowSeconds: 900, lockSeconds: 900 },
        description: expect.stringContaining('locked'),
        category: 'SECURITY',
        version: 0,
        updatedAt: null,
      });
    });

    it('refuses unknown keys and invalid values (with field paths, never the value), storing nothing', async () => {
      const store = await openStore();
      await expect(failure(store.setByName('security.nope', 1, actor))).resolves.toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'SETTING_UNKNOWN',
      });
      const cases: [SettingKey, unknown, string][] = [
        ['security.passwordMinLength', 4, ''],
        ['security.passwordMinLength', '12', ''],
        ['security.lockout', { maxFailures: 5, windowSeconds: 60, lockSeconds: 0 }, 'lockSeconds'],
        ['security.mfaRequiredRoles', ['Admin!'], '0'],
        ['email.templates.welcome', { subject: 'Hi <script>alert(1)</script>' }, 'subject'],
        ['email.templates.welcome', { subject: 'Hi', html: '<b>x</b>' }, ''],
        // Secrets stay in the environment: the provider objects are strict.
        [
          'oauth.providers',
          {
            ...SETTINGS['oauth.providers'].default,
            google: { enabled: true, allowedEmailDomains: [], clientSecret: 's3cr3t' },
          },
          'google',
        ],
        ['oauth.providers', { ...SETTINGS['oauth.providers'].default, github: undefined }, 'github'],
      ];
      for (const [key, value, path] of cases) {
        const result = await failure(store.set(key, value, actor));
        expect({ key, ...result }).toMatchObject({
          key,
          code: 'BAD_USER_INPUT',
          reason: 'SETTING_INVALID',
          issues: expect.arrayContaining([expect.objectContaining({ path })]),
        });
        expect(JSON.stringify(result.issues)).not.toContain('s3cr3t');
      }
      expect(await db.prisma.setting.count()).toBe(0);
      expect(await db.prisma.auditLog.count({ where: { action: 'SETTING_CHANGED' } })).toBe(0);
    });

    it('stores valid values with a versioned audit row holding the previous and the new value', async () => {
      const store = await openStore();
      const first = await store.set(
        'security.lockout',
        { maxFailures: 3, windowSeconds: 600, lockSeconds: 1800 },
        actor,
      );
      expect(first).toMatchObject({
        version: 1,
        value: { maxFailures: 3, windowSeconds: 600, lockSeconds: 1800 },
      });
      const second = await store.set(
        'security.lockout',
        { maxFailures: 10, windowSeconds: 600, lockSeconds: 60 },
        actor,
      );
      expect(second.version).toBe(2);
      await expect(store.get('security.lockout')).resolves.toEqual({
        maxFailures: 10,
        windowSeconds: 600,
        lockSeconds: 60,
      });

      const rows = await auditRows('SETTING_CHANGED', 'security.lockout');
      expect(rows.map((row) => row.metadata)).toEqual([
        {
          key: 'security.lockout',
          version: 1,
          previous: { maxFailures: 5, windowSeconds: 900, lockSeconds: 900 },
          previousWasDefault: true,
          value: { maxFailures: 3, windowSeconds: 600, lockSeconds: 1800 },
          outcome: 'SUCCESS',
        },
        {
          key: 'security.lockout',
          version: 2,
          previous: { maxFailures: 3, windowSeconds: 600, lockSeconds: 1800 },
          previousWasDefault: false,
          value: { maxFailures: 10, windowSeconds: 600, lockSeconds: 60 },
          outcome: 'SUCCESS',
        },
      ]);
      expect(rows[0]).toMatchObject({
        actorUserId: actor.actorUserId,
        targetType: 'Setting',
        requestId: 'req-1',
        ipAddress: '203.0.113.9',
      });
      const listed = (await store.list()).find((s) => s.key === 'security.lockout');
      expect(listed).toMatchObject({ version: 2, updatedAt: second.updatedAt });
    });

    it('numbers concurrent changes of one key without gaps or duplicates', async () => {
      const store = await openStore();
      const results = await Promise.all(
        [20, 21, 22, 23, 24].map((length) => store.set('security.passwordMinLength', length, actor)),
      );
      expect(results.map((r) => r.version).sort()).toEqual([1, 2, 3, 4, 5]);
      const rows = await auditRows('SETTING_CHANGED', 'security.passwordMinLength');
      expect(rows.map((row) => (row.metadata as { version: number }).version)).toEqual([1, 2, 3, 4, 5]);
    });

    it('normalises values before storing them (deduplicated, sorted role names)', async () => {
      const store = await openStore();
      await store.set('security.mfaRequiredRoles', ['support', 'admin', 'support'], actor);
      await expect(store.get('security.mfaRequiredRoles')).resolves.toEqual(['admin', 'support']);
      const row = await db.prisma.setting.findUniqueOrThrow({ where: { key: 'security.mfaRequiredRoles' } });
      expect(row.value).toEqual(['admin', 'support']);
    });

    it('falls back to the default when the stored row is invalid (hand-edited)', async () => {
      await db.prisma.setting.create({
        data: { key: 'email.templates.mfa-code', value: { subject: '<h1>bad</h1>' } },
      });
      const store = await openStore();
      await expect(store.get('email.templates.mfa-code')).resolves.toEqual({});
    });

    it('tells a stored value from the default: getStored is undefined until a valid value is set', async () => {
      const store = await openStore();
      const key = 'email.templates.data-export-ready';
      await expect(store.getStored(key)).resolves.toBeUndefined();
      await expect(store.getStored('email.templates.email-changed')).resolves.toBeUndefined();
      // A stored value equal to the default still counts as set: the administrator chose it.
      await store.set(key, {}, actor);
      await expect(store.getStored(key)).resolves.toEqual({});
      await store.set(key, { intro: 'Here it is.' }, actor);
      await expect(store.getStored(key)).resolves.toEqual({ intro: 'Here it is.' });
      // A hand-edited invalid row counts as unset.
      await db.prisma.setting.create({ data: { key: 'email.templates.verify-email', value: { intro: '' } } });
      const fresh = await openStore();
      await expect(fresh.getStored('email.templates.verify-email')).resolves.toBeUndefined();
      await expect(fresh.get('email.templates.verify-email')).resolves.toEqual({});
    });
  });

  describe('caching', () => {
    it('serves reads from the cache for ttlSeconds, then from the database', async () => {
      const store = await openStore({ ttlSeconds: 30 });
      await store.set('rateLimits', SETTINGS.rateLimits.default, actor);
      await store.get('rateLimits');
      // A change behind the store's back (another tool): invisible until the entries expire.
      const changed = { ...SETTINGS.rateLimits.default, read: { perIp: 1, perUser: 1 } };
      await db.prisma.setting.update({ where: { key: 'rateLimits' }, data: { value: changed } });
      await expect(store.get('rateLimits')).resolves.toEqual(SETTINGS.rateLimits.default);
      // The shared entry expires by the store's own clock (KV TTL); the injected clock only ages the local one.
      await opened.at(-1)!.kv.delete('settings:v1:rateLimits');
      await expect(store.get('rateLimits')).resolves.toEqual(SETTINGS.rateLimits.default); // still local
      clock += 31_000;
      await expect(store.get('rateLimits')).resolves.toEqual(changed);
    });

    it('makes a change visible in another process at once through the bus', async () => {
      const processA = await openStore();
      const processB = await openStore();
      const key = 'email.templates.password-reset';
      await expect(processA.get(key)).resolves.toEqual({});
      await expect(processB.get(key)).resolves.toEqual({});
      await processB.set(key, { subject: 'Reset your password' }, actor);
      // B answers with its own change immediately; A once the invalidation event arrives (well within the TTL).
      await expect(processB.get(key)).resolves.toEqual({ subject: 'Reset your password' });
      await waitFor(async () => (await processA.get(key)).subject === 'Reset your password', {
        what: "process A to see B's change",
      });
    });

    it('without a bus, refreshes the shared entry at once and the local one after the TTL', async () => {
      const processA = await openStore({ events: false });
      const processB = await openStore({ events: false });
      const key = 'email.templates.account-locked';
      await expect(processA.get(key)).resolves.toEqual({});
      await processB.set(key, { intro: 'Too many attempts.' }, actor);
      await expect(processA.get(key)).resolves.toEqual({}); // A's local entry
      await expect(opened.at(-1)!.kv.get(`settings:v1:${key}`)).resolves.toContain('Too many attempts.');
      clock += 31_000;
      await expect(processA.get(key)).resolves.toEqual({ intro: 'Too many attempts.' });
    });

    it('does not let a read that started before a change cache the old value', async () => {
      const store = await openStore();
      const key = 'email.templates.new-sign-in';
      // Simulates the race: the reader loaded the old row before the commit and fills the shared entry after it.
      const reader = store.get(key);
      await store.set(key, { subject: 'New sign-in' }, actor);
      await reader;
      await expect(store.get(key)).resolves.toEqual({ subject: 'New sign-in' });
      const kv = opened.at(-1)!.kv;
      await expect(kv.get(`settings:v1:${key}`)).resolves.toContain('New sign-in');
    });
  });

  describe('feature flags', () => {
    const users = Array.from({ length: 2000 }, () => randomUUID());

    it('is off for a missing flag, and validates configuration', async () => {
      const store = await openStore();
      await expect(store.isEnabled('does-not-exist', { userId: users[0] })).resolves.toBe(false);
      await expect(
        failure(store.setFlag('Bad Key', { enabled: true, rolloutPercent: 10, userIds: [] }, actor)),
      ).resolves.toMatchObject({ code: 'BAD_USER_INPUT', reason: 'FEATURE_FLAG_INVALID' });
      await expect(
        failure(store.setFlag('ok', { enabled: true, rolloutPercent: 101, userIds: ['nope'] }, actor)),
      ).resolves.toMatchObject({
        reason: 'FEATURE_FLAG_INVALID',
        issues: [
          expect.objectContaining({ path: 'rolloutPercent' }),
          expect.objectContaining({ path: 'userIds.0' }),
        ],
      });
      expect(await db.prisma.featureFlag.count()).toBe(0);
    });

    it('rolls out to a stable, independent share of users, plus the allow-list, audited with versions', async () => {
      const processA = await openStore();
      const processB = await openStore();
      const vip = users[0]!;
      const view = await processA.setFlag(
        'billing.new-checkout',
        { enabled: true, rolloutPercent: 30, userIds: [vip.toUpperCase()], description: 'New checkout' },
        actor,
      );
      expect(view).toMatchObject({ version: 1, rolloutPercent: 30, userIds: [vip], enabled: true });

      const evaluate = (store: SettingsStore, key: string) =>
        Promise.all(users.map((userId) => store.isEnabled(key, { userId })));
      const onA = await evaluate(processA, 'billing.new-checkout');
      const onB = await evaluate(processB, 'billing.new-checkout');
      expect(onB).toEqual(onA); // stable across processes
      // Computed independently from the documented hash: bucket < 30, or allow-listed.
      expect(onA).toEqual(users.map((u) => u === vip || rolloutBucket('billing.new-checkout', u) < 30));
      const share = onA.filter(Boolean).length / users.length;
      expect(share).toBeGreaterThan(0.26);
      expect(share).toBeLessThan(0.34);
      await expect(processA.isEnabled('billing.new-checkout')).resolves.toBe(false); // anonymous

      // Another flag picks other users: buckets are per flag.
      await processA.setFlag('search.v2', { enabled: true, rolloutPercent: 30, userIds: [] }, actor);
      const other = await evaluate(processA, 'search.v2');
      const both = other.filter((on, i) => on && onA[i]).length / users.length;
      expect(both).toBeGreaterThan(0.05);
      expect(both).toBeLessThan(0.14);

      // Widening keeps everyone who had it (monotonic rollout); B sees the change through the bus.
      await processA.setFlag(
        'billing.new-checkout',
        { enabled: true, rolloutPercent: 60, userIds: [vip] },
        actor,
      );
      await waitFor(
        async () => (await evaluate(processB, 'billing.new-checkout')).filter(Boolean).length > 900,
        {
          what: 'process B to see the wider rollout',
        },
      );
      const widened = await evaluate(processB, 'billing.new-checkout');
      expect(onA.every((on, i) => !on || widened[i])).toBe(true);

      // The kill switch wins over the allow-list.
      await processA.setFlag(
        'billing.new-checkout',
        { enabled: false, rolloutPercent: 60, userIds: [vip] },
        actor,
      );
      await waitFor(async () => !(await processB.isEnabled('billing.new-checkout', { userId: vip })));

      // 100 %: everyone, anonymous included.
      await processA.setFlag('search.v2', { enabled: true, rolloutPercent: 100, userIds: [] }, actor);
      await waitFor(() => processB.isEnabled('search.v2'));

      const rows = await auditRows('FEATURE_FLAG_CHANGED', 'billing.new-checkout');
      expect(rows.map((row) => row.metadata)).toEqual([
        {
          key: 'billing.new-checkout',
          version: 1,
          previous: null,
          value: { enabled: true, rolloutPercent: 30, userIds: [vip], description: 'New checkout' },
          outcome: 'SUCCESS',
        },
        expect.objectContaining({ version: 2, value: expect.objectContaining({ rolloutPercent: 60 }) }),
        expect.objectContaining({
          version: 3,
          previous: expect.objectContaining({ enabled: true }),
          value: expect.objectContaining({ enabled: false }),
        }),
      ]);
      const flags = await processB.listFlags();
      expect(flags.map((f) => [f.key, f.version, f.enabled, f.rolloutPercent])).toEqual([
        ['billing.new-checkout', 3, false, 60],
        ['search.v2', 2, true, 100],
      ]);
    });
  });
});
