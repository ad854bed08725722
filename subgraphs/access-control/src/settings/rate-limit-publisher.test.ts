// Issue #6/#8: access-control publishes the stored `rateLimits` setting for the gateway (which has no database),
// against real PostgreSQL and, with REDIS_URL, Redis for the shared store and the bus.
import { randomUUID } from 'node:crypto';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import {
  createSettingsStore,
  SETTINGS,
  SETTINGS_CHANGED_TOPIC,
  type SettingsActor,
  type SettingsChangedEvent,
  type SettingsStore,
} from '@gatehouse/settings';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
} from '@gatehouse/testing';
import { createRateLimitPublisher, PUBLISHED_RATE_LIMITS_KEY } from './rate-limit-publisher';

const redisUrl = redisUrlForTests('@gatehouse/subgraph-access-control rate-limit publisher');
const redisPrefix = uniqueTestPrefix();

let db: TestDatabase;
let kv: KeyValueStore;
let events: EventBus;
let store: SettingsStore;
let actor: SettingsActor;
const warn = jest.fn();

const LOWER_READS = { ...SETTINGS.rateLimits.default, read: { perIp: 100, perUser: 3 } };

beforeAll(async () => {
  db = await createTestDatabase();
  kv = redisUrl ? createKeyValueStore({ redisUrl, prefix: `${redisPrefix}:kv` }) : new MemoryKeyValueStore();
  events = createEventBus(redisUrl ? { redisUrl, prefix: `${redisPrefix}:bus` } : {});
  store = createSettingsStore({ prisma: db.prisma, kv, events });
  await store.ready;
  const admin = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
  actor = { actorUserId: admin.id, requestId: 'req-1' };
});

afterAll(async () => {
  await store?.close();
  await events?.close();
  await kv?.close();
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

beforeEach(async () => {
  warn.mockClear();
  await db.prisma.setting.deleteMany({ where: { key: 'rateLimits' } });
  // The settings cache would otherwise still hold the previous test's row.
  await kv.delete('settings:v1:rateLimits');
});

const publisherOf = (
  options: { kv?: Pick<KeyValueStore, 'set' | 'delete'>; settings?: SettingsStore } = {},
) =>
  createRateLimitPublisher({
    store: options.settings ?? store,
    kv: options.kv ?? kv,
    events,
    logger: { warn },
  });

/** A fresh store for each read after a row is changed behind the cache's back. */
function freshStore(): SettingsStore {
  return createSettingsStore({ prisma: db.prisma, kv: new MemoryKeyValueStore() });
}

it('removes the published value at start while the setting was never stored', async () => {
  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(LOWER_READS)); // left by an earlier deployment
  await publisherOf({ settings: freshStore() }).publish();

  await expect(kv.get(PUBLISHED_RATE_LIMITS_KEY)).resolves.toBeNull();
});

it('publishes the stored value at start', async () => {
  await db.prisma.setting.create({ data: { key: 'rateLimits', value: LOWER_READS } });
  await publisherOf({ settings: freshStore() }).publish();

  expect(JSON.parse((await kv.get(PUBLISHED_RATE_LIMITS_KEY))!)).toEqual(LOWER_READS);
});

it('treats a value stored in the earlier shape as never stored', async () => {
  const earlier = { signIn: { limit: 10, windowSeconds: 60 }, api: { limit: 600, windowSeconds: 60 } };
  await db.prisma.setting.create({ data: { key: 'rateLimits', value: earlier } });
  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(LOWER_READS));
  const settings = freshStore();

  await expect(settings.getStored('rateLimits')).resolves.toBeUndefined();
  await publisherOf({ settings }).publish();
  await expect(kv.get(PUBLISHED_RATE_LIMITS_KEY)).resolves.toBeNull();
});

it('publishes a change of rateLimits, then announces it so the last settings.changed follows the value', async () => {
  const seen: unknown[] = [];
  const stop = await events.subscribe<SettingsChangedEvent>(SETTINGS_CHANGED_TOPIC, async (event) => {
    // What a gateway reading on this event would find.
    if (event.key === 'rateLimits')
      seen.push(JSON.parse((await kv.get(PUBLISHED_RATE_LIMITS_KEY)) ?? 'null'));
  });
  try {
    const publisher = publisherOf();
    const view = await publisher.store.setByName('rateLimits', LOWER_READS, actor);

    expect(view.value).toEqual(LOWER_READS);
    expect(JSON.parse((await kv.get(PUBLISHED_RATE_LIMITS_KEY))!)).toEqual(LOWER_READS);
    // The store's own announcement and the publisher's.
    await waitFor(() => seen.length === 2, { what: 'two settings.changed events' });
    expect(seen.at(-1)).toEqual(LOWER_READS);

    const typed = await publisher.store.set('rateLimits', SETTINGS.rateLimits.default, actor);
    expect(typed.version).toBe(2);
    expect(JSON.parse((await kv.get(PUBLISHED_RATE_LIMITS_KEY))!)).toEqual(SETTINGS.rateLimits.default);
  } finally {
    await stop();
  }
});

it('publishes nothing for other settings', async () => {
  const written = jest.fn();
  const watched: Pick<KeyValueStore, 'set' | 'delete'> = {
    set: async (key, value) => {
      written(key);
      return kv.set(key, value);
    },
    delete: async (key) => {
      written(key);
      return kv.delete(key);
    },
  };
  await publisherOf({ kv: watched }).store.setByName('security.passwordMinLength', 14, actor);

  expect(written).not.toHaveBeenCalled();
});

it('keeps a stored change when the shared store is down, with a warning', async () => {
  const down: Pick<KeyValueStore, 'set' | 'delete'> = {
    set: () => Promise.reject(new Error('connection lost')),
    delete: () => Promise.reject(new Error('connection lost')),
  };
  const publisher = publisherOf({ kv: down });

  const view = await publisher.store.setByName('rateLimits', LOWER_READS, actor);
  await publisher.publish();

  expect(view.version).toBeGreaterThanOrEqual(1);
  await expect(freshStore().getStored('rateLimits')).resolves.toEqual(LOWER_READS);
  expect(warn).toHaveBeenCalledTimes(2);
  expect(warn).toHaveBeenCalledWith({ err: expect.any(Error) }, 'rate limits not published to the gateway');
});
