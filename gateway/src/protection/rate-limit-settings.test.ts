// Issue #6/#8: the administrator's `rateLimits` setting, as access-control publishes it, replaces the gateway's
// RATE_LIMIT_* limits without a restart, and removing it restores them.
import { loadConfig } from '@gatehouse/config';
import { MemoryEventBus } from '@gatehouse/events';
import { MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { SETTINGS, SETTINGS_CHANGED_TOPIC, type SettingsChangedEvent } from '@gatehouse/settings';
import { waitFor } from '@gatehouse/testing';
import { PUBLISHED_RATE_LIMITS_KEY as PUBLISHER_KEY } from '../../../subgraphs/access-control/src/settings/rate-limit-publisher';
import { gatewayConcerns } from '../config';
import {
  createGatewayProtection,
  PUBLISHED_RATE_LIMITS_KEY,
  rateLimitChecks,
  startRateLimitSettingsReader,
  type ConfiguredGatewayProtection,
  type RateLimitSettings,
  type RateLimitSettingsReader,
} from '.';

const logger = createLogger({ name: 'rate-limit-settings-test', level: 'silent' });

/** Low environment limits, so a test can exhaust them in a few calls. */
const ENV = {
  RATE_LIMIT_WINDOW_SECONDS: '60',
  RATE_LIMIT_READ_PER_USER: '5',
  RATE_LIMIT_REST_PER_IP: '4',
};

const PUBLISHED: RateLimitSettings = {
  ...SETTINGS.rateLimits.default,
  read: { perIp: 6000, perUser: 2 },
  rest: { perIp: 1 },
};

let kv: MemoryKeyValueStore;
let events: MemoryEventBus;
const readers: RateLimitSettingsReader[] = [];

beforeEach(() => {
  kv = new MemoryKeyValueStore();
  events = new MemoryEventBus();
});

afterEach(async () => {
  for (const reader of readers.splice(0)) await reader.close();
  await events.close();
  await kv.close();
  jest.useRealTimers();
});

function protectionWith(env: Record<string, string> = ENV): ConfiguredGatewayProtection {
  const config = loadConfig(gatewayConcerns, env);
  return createGatewayProtection(
    {
      production: false,
      issuer: config.wellKnown.JWT_ISSUER,
      publicKeys: [],
      gatewayAuth: config.gatewayAuth,
      rateLimit: config.rateLimit,
      queryLimits: config.queryLimits,
      cors: config.cors,
    },
    { kv, logger },
  );
}

async function startReader(
  protection: ConfiguredGatewayProtection,
  options: {
    kv?: Pick<KeyValueStore, 'get'>;
    bus?: boolean;
    log?: { info: jest.Mock; warn: jest.Mock };
  } = {},
): Promise<RateLimitSettingsReader> {
  const reader = await startRateLimitSettingsReader({
    kv: options.kv ?? kv,
    ...(options.bus === false ? {} : { events }),
    target: protection,
    // Only `info` and `warn` are called; a recording stand-in for pino's overloads.
    logger: (options.log ?? { info: jest.fn(), warn: jest.fn() }) as never,
    refreshIntervalMs: 0,
  });
  readers.push(reader);
  return reader;
}

const announce = (key = 'rateLimits') =>
  events.publish<SettingsChangedEvent>(SETTINGS_CHANGED_TOPIC, { kind: 'setting', key });

/** `count` single-field queries of one user, through the limiter and the policy in force (as the plugin does). */
async function reads(protection: ConfiguredGatewayProtection, userId: string, count: number) {
  const outcomes: boolean[] = [];
  for (let i = 0; i < count; i += 1) {
    const { limiter, policy } = protection.graphql!.rateLimit!;
    const checks = rateLimitChecks({ auth: 0, write: 0, read: 1 }, policy, undefined, userId);
    outcomes.push((await limiter.consume(checks)).allowed);
  }
  return outcomes;
}

/** `count` proxied REST requests of one address, with the limits in force (as the REST route does). */
async function restRequests(protection: ConfiguredGatewayProtection, ip: string, count: number) {
  const outcomes: boolean[] = [];
  for (let i = 0; i < count; i += 1) {
    const rest = protection.restRateLimit!;
    const check = { key: `rest:ip:${ip}`, limit: rest.perIp, windowSeconds: rest.windowSeconds };
    outcomes.push((await rest.limiter.consume([check])).allowed);
  }
  return outcomes;
}

it('reads the key access-control publishes to', () => {
  expect(PUBLISHED_RATE_LIMITS_KEY).toBe(PUBLISHER_KEY);
});

it('enforces a published value on settings.changed, and the environment again once the key is removed', async () => {
  const protection = protectionWith();
  await startReader(protection);
  expect(await reads(protection, 'user-env', 6)).toEqual([true, true, true, true, true, false]);

  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(PUBLISHED));
  await announce();
  await waitFor(() => protection.rateLimits.read.perUser === 2, { what: 'the published limits' });

  expect(protection.rateLimits).toEqual(PUBLISHED);
  expect(await reads(protection, 'user-setting', 3)).toEqual([true, true, false]);
  expect(await restRequests(protection, '192.0.2.1', 2)).toEqual([true, false]);

  await kv.delete(PUBLISHED_RATE_LIMITS_KEY);
  await announce();
  await waitFor(() => protection.rateLimits.read.perUser === 5, { what: 'the environment limits' });

  expect(await reads(protection, 'user-env-again', 6)).toEqual([true, true, true, true, true, false]);
  expect(await restRequests(protection, '192.0.2.2', 5)).toEqual([true, true, true, true, false]);
});

it('applies a value published before the gateway started', async () => {
  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(PUBLISHED));
  const protection = protectionWith();
  await startReader(protection, { bus: false });

  expect(protection.rateLimits).toEqual(PUBLISHED);
  expect(await reads(protection, 'user-start', 3)).toEqual([true, true, false]);
});

it('ignores settings.changed of other settings', async () => {
  const protection = protectionWith();
  await startReader(protection);
  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(PUBLISHED));
  await announce('security.lockout');
  await events.publish<SettingsChangedEvent>(SETTINGS_CHANGED_TOPIC, { kind: 'flag', key: 'rateLimits' });
  // Delivered in publish order: once this one is handled, the two before it were too.
  await announce();
  await waitFor(() => protection.rateLimits.read.perUser === 2, { what: 'the published limits' });

  const spy = jest.spyOn(kv, 'get');
  await announce('security.lockout');
  await announce();
  await waitFor(() => spy.mock.calls.length > 0, { what: 'a read for the rateLimits event' });
  expect(spy.mock.calls).toEqual([[PUBLISHED_RATE_LIMITS_KEY]]);
});

it.each([
  ['the earlier shape', JSON.stringify({ signIn: { limit: 10, windowSeconds: 60 } })],
  ['a bound broken', JSON.stringify({ ...PUBLISHED, windowSeconds: 0 })],
  ['text that is not JSON', '{"windowSeconds":'],
])('keeps the environment for a published value of %s, with a warning', async (_what, raw) => {
  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(PUBLISHED));
  const protection = protectionWith();
  const log = { info: jest.fn(), warn: jest.fn() };
  await startReader(protection, { log });
  expect(protection.rateLimits.read.perUser).toBe(2);

  await kv.set(PUBLISHED_RATE_LIMITS_KEY, raw);
  await announce();
  await waitFor(() => protection.rateLimits.read.perUser === 5, { what: 'the environment limits' });

  expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('not valid'));
  expect(await reads(protection, 'user-invalid', 6)).toEqual([true, true, true, true, true, false]);
});

it('keeps the limits in force while the store cannot be read', async () => {
  const protection = protectionWith();
  let failing = false;
  const flaky: Pick<KeyValueStore, 'get'> = {
    get: (key) => (failing ? Promise.reject(new Error('connection lost')) : kv.get(key)),
  };
  const log = { info: jest.fn(), warn: jest.fn() };
  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(PUBLISHED));
  const reader = await startReader(protection, { kv: flaky, log });
  expect(protection.rateLimits).toEqual(PUBLISHED);

  failing = true;
  await reader.refresh();

  expect(protection.rateLimits).toEqual(PUBLISHED);
  expect(log.warn).toHaveBeenCalledWith({ err: expect.any(Error) }, expect.stringContaining('unreadable'));
});

it('applies the latest read when reads finish out of order', async () => {
  const protection = protectionWith();
  const pending: ((value: string | null) => void)[] = [];
  const slow: Pick<KeyValueStore, 'get'> = {
    get: () => new Promise((resolve) => pending.push(resolve)),
  };
  const starting = startReader(protection, { kv: slow, bus: false });
  pending.shift()!(null);
  const reader = await starting;

  const older = reader.refresh();
  const newer = reader.refresh();
  const [first, second] = pending.splice(0);
  second!(JSON.stringify(PUBLISHED));
  await newer;
  first!(null); // the older answer, arriving last: the key was removed before the newer read
  await older;

  expect(protection.rateLimits).toEqual(PUBLISHED);
});

it('re-reads every refreshIntervalMs when an event was lost', async () => {
  jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
  const protection = protectionWith();
  const reader = await startRateLimitSettingsReader({
    kv,
    target: protection,
    logger,
    refreshIntervalMs: 60_000,
  });
  readers.push(reader);
  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(PUBLISHED));

  await jest.advanceTimersByTimeAsync(59_000);
  expect(protection.rateLimits.read.perUser).toBe(5);
  await jest.advanceTimersByTimeAsync(1_000);
  expect(protection.rateLimits).toEqual(PUBLISHED);

  await reader.close();
  await kv.delete(PUBLISHED_RATE_LIMITS_KEY);
  await jest.advanceTimersByTimeAsync(120_000);
  expect(protection.rateLimits).toEqual(PUBLISHED); // closed: no more reads
});

it('enforces nothing with RATE_LIMIT_ENABLED=false, whatever is published', async () => {
  await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(PUBLISHED));
  const protection = protectionWith({ ...ENV, RATE_LIMIT_ENABLED: 'false' });
  await startReader(protection);

  expect(protection.graphql?.rateLimit).toBeUndefined();
  expect(protection.restRateLimit).toBeUndefined();
});
