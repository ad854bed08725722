// Issue #14 (mail flooding): the per-recipient throttle against the real store (Redis when REDIS_URL is set).
import { createHmac, randomBytes } from 'node:crypto';
import { hashToken } from '@gatehouse/crypto';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { deleteRedisKeys, testRedisUrl, uniqueTestPrefix } from '@gatehouse/testing';
import { createMailThrottle } from './mail-throttle';

const redisUrl = testRedisUrl();
const prefix = uniqueTestPrefix();
const addressKey = randomBytes(32);
let kv: KeyValueStore;

beforeAll(() => {
  kv = createKeyValueStore({ ...(redisUrl ? { redisUrl } : {}), prefix });
});

afterAll(async () => {
  await kv.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, prefix);
});

it('lets 3 mails of a kind to one address through per window, per kind and per address', async () => {
  const throttle = createMailThrottle({ kv, addressKey });
  const sent = [];
  for (let i = 0; i < 5; i += 1) sent.push(await throttle.allow('password-reset', 'ada@example.test'));
  expect(sent).toEqual([true, true, true, false, false]);
  // The same address however it is written.
  expect(await throttle.allow('password-reset', ' ADA@example.test ')).toBe(false);
  expect(await throttle.allow('verify-email', 'ada@example.test')).toBe(true);
  expect(await throttle.allow('password-reset', 'grace@example.test')).toBe(true);
});

it('opens again once the window is over', async () => {
  const throttle = createMailThrottle({ kv, addressKey, limit: 1, windowSeconds: 0.3 });
  expect(await throttle.allow('verify-email', 'linus@example.test')).toBe(true);
  expect(await throttle.allow('verify-email', 'linus@example.test')).toBe(false);
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(await throttle.allow('verify-email', 'linus@example.test')).toBe(true);
});

it('keys the window by a keyed hash of the normalised address, never the address or its plain hash', async () => {
  await createMailThrottle({ kv, addressKey }).allow('verify-email', 'Hedy@Example.test');
  const keyed = createHmac('sha256', addressKey).update('hedy@example.test').digest('hex');
  expect(await kv.get(`mail-throttle:verify-email:${keyed}`)).toBe('1');
  expect(await kv.get(`mail-throttle:verify-email:${hashToken('hedy@example.test')}`)).toBeNull();
  expect(await kv.get('mail-throttle:verify-email:hedy@example.test')).toBeNull();
});

it('sends when the store is down (a Redis outage must not stop sign-ups), and says so', async () => {
  const closed = new MemoryKeyValueStore();
  await closed.close();
  const warnings: object[] = [];
  const throttle = createMailThrottle({
    kv: closed,
    addressKey,
    logger: { warn: (details) => warnings.push(details) },
  });
  expect(await throttle.allow('password-reset', 'ada@example.test')).toBe(true);
  expect(warnings).toHaveLength(1);
});
