import { randomBytes } from 'node:crypto';
import { createEnvelopeCipher, generateToken, hashToken } from '@gatehouse/crypto';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { deleteRedisKeys, redisUrlForTests, uniqueTestPrefix } from '@gatehouse/testing';
import { createOAuthStateStore, type PendingFlow } from './oauth-state';

const redisUrl = redisUrlForTests('@gatehouse/subgraph-identity oauth state');
const redisPrefix = uniqueTestPrefix();
const stores: { name: string; open(): KeyValueStore }[] = [
  { name: 'in-process store', open: () => new MemoryKeyValueStore() },
];
if (redisUrl)
  stores.push({ name: 'Redis', open: () => createKeyValueStore({ redisUrl, prefix: redisPrefix }) });

afterAll(async () => {
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

describe.each(stores)('OAuth state store with the $name', ({ open }) => {
  const kv = open();
  const cipher = createEnvelopeCipher([{ id: 'k1', key: randomBytes(32) }]);
  const clock = { now: new Date('2031-01-01T00:00:00Z') };
  const store = createOAuthStateStore({ kv, cipher, now: () => clock.now });
  afterAll(() => kv.close());

  const flow = (): PendingFlow => ({
    provider: 'google',
    redirectUri: 'http://app.test/done',
    codeVerifier: generateToken(32),
    nonce: generateToken(32),
    linkUserId: null,
    bindingHash: null,
    expiresAt: clock.now.getTime() + 600_000,
  });

  it('stores flows encrypted under the hash of the state, and hands each out once', async () => {
    const state = generateToken(32);
    const saved = flow();
    await store.saveFlow(state, saved);
    const raw = await kv.get(`oauth:state:${hashToken(state)}`);
    expect(raw).toEqual(expect.any(String));
    expect(raw).not.toContain(saved.codeVerifier!);
    expect(raw).not.toContain('google');
    expect(await kv.ttlSeconds(`oauth:state:${hashToken(state)}`)).toBeLessThanOrEqual(600);

    const winners = (await Promise.all(Array.from({ length: 8 }, () => store.consumeFlow(state)))).filter(
      Boolean,
    );
    expect(winners).toEqual([saved]);
    expect(await store.consumeFlow(state)).toBeNull();
  });

  it('refuses expired entries by the service clock, and values moved to another key', async () => {
    const state = generateToken(32);
    await store.saveFlow(state, flow());
    clock.now = new Date(clock.now.getTime() + 600_001);
    expect(await store.consumeFlow(state)).toBeNull();

    const code = generateToken(32);
    await store.saveResult(code, {
      kind: 'sign-in',
      userId: 'u1',
      provider: 'google',
      isNewUser: false,
      stateHash: hashToken(state),
      expiresAt: clock.now.getTime() + 120_000,
    });
    const other = generateToken(32);
    await kv.set(`oauth:result:${hashToken(other)}`, (await kv.get(`oauth:result:${hashToken(code)}`))!);
    expect(await store.consumeResult(other)).toBeNull();
    expect(await store.consumeResult(code)).toMatchObject({ userId: 'u1' });
  });
});
