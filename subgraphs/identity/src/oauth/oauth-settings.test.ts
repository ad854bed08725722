// Issue #6: the `oauth.providers` setting switches providers off and restricts their e-mail domains, enforced at
// the callback too (a flow started before the change). A real OpenID provider and a real settings store.
import { randomUUID } from 'node:crypto';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createSettingsStore, SETTINGS, type SettingsStore } from '@gatehouse/settings';
import {
  createTestDatabase,
  startTestOidcProvider,
  type TestDatabase,
  type TestOidcProvider,
} from '@gatehouse/testing';
import { createIdentitySettings } from '../settings/identity-settings';
import {
  appRedirect,
  callback,
  CALLBACK_BASE,
  createHarness,
  throughProvider,
  type Harness,
} from './oauth-harness.test-support';

const google = { clientId: 'google-client', clientSecret: 'google-secret' };

let db: TestDatabase;
let idp: TestOidcProvider;
let store: SettingsStore;
let h: Harness;
let actorUserId = '';

const providers = (google: { enabled: boolean; allowedEmailDomains: string[] }) => ({
  ...SETTINGS['oauth.providers'].default,
  google,
});

beforeAll(async () => {
  [db, idp] = await Promise.all([
    createTestDatabase(),
    startTestOidcProvider({
      clients: [{ ...google, redirectUris: [`${CALLBACK_BASE}/auth/oauth/google/callback`] }],
    }),
  ]);
  await db.prisma.role.create({ data: { name: 'member' } });
  actorUserId = (await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } })).id;
  // No bus: this one store is the only reader, and `set` refreshes its own entries.
  store = createSettingsStore({ prisma: db.prisma, kv: new MemoryKeyValueStore() });
  const settings = createIdentitySettings({
    store,
    fallback: { lockout: { maxFailures: 5, windowSeconds: 900, lockSeconds: 900 }, passwordMinLength: 12 },
  });
  h = createHarness(
    db,
    new MemoryKeyValueStore(),
    {
      GOOGLE_CLIENT_ID: google.clientId,
      GOOGLE_CLIENT_SECRET: google.clientSecret,
      GOOGLE_ISSUER: idp.issuer,
    },
    { providerRules: settings.oauthProviderRules },
  );
}, 30_000);

afterAll(async () => {
  await store?.close();
  await Promise.all([db?.close(), idp?.close()]);
});

const set = (google: { enabled: boolean; allowedEmailDomains: string[] }) =>
  store.set('oauth.providers', providers(google), { actorUserId, requestId: 'req-oauth-settings' });

it('signs in only verified addresses of the allowed domains', async () => {
  await set({ enabled: true, allowedEmailDomains: ['corp.example'] });

  await idp.setNextLogin({
    sub: `g-${randomUUID()}`,
    email: `${randomUUID()}@elsewhere.example`,
    email_verified: true,
  });
  let back = await throughProvider(h, 'google');
  expect(appRedirect(await callback(h, 'google', back))).toEqual({
    error: 'OAUTH_EMAIL_DOMAIN_NOT_ALLOWED',
    state: back.state,
  });

  // The right domain, but unverified: the domain proves nothing.
  await idp.setNextLogin({
    sub: `g-${randomUUID()}`,
    email: `${randomUUID()}@corp.example`,
    email_verified: false,
  });
  back = await throughProvider(h, 'google');
  expect(appRedirect(await callback(h, 'google', back)).error).toBe('OAUTH_EMAIL_DOMAIN_NOT_ALLOWED');
  expect(await db.prisma.user.count({ where: { email: { endsWith: '@elsewhere.example' } } })).toBe(0);
  expect(await db.prisma.user.count({ where: { email: { endsWith: '@corp.example' } } })).toBe(0);

  await idp.setNextLogin({
    sub: `g-${randomUUID()}`,
    email: `${randomUUID()}@Corp.Example`,
    email_verified: true,
  });
  back = await throughProvider(h, 'google');
  expect(appRedirect(await callback(h, 'google', back))).toEqual({
    code: expect.any(String),
    state: back.state,
  });

  const refused = await db.prisma.auditLog.findFirst({
    where: {
      action: 'OAUTH_LOGIN_FAILED',
      metadata: { path: ['reason'], equals: 'OAUTH_EMAIL_DOMAIN_NOT_ALLOWED' },
    },
  });
  expect(refused?.metadata).toMatchObject({ provider: 'google' });
});

it('ends at the callback a flow whose provider was switched off after it started', async () => {
  await set({ enabled: true, allowedEmailDomains: [] });
  await idp.setNextLogin({
    sub: `g-${randomUUID()}`,
    email: `${randomUUID()}@example.test`,
    email_verified: true,
  });
  const back = await throughProvider(h, 'google');
  await set({ enabled: false, allowedEmailDomains: [] });
  expect(appRedirect(await callback(h, 'google', back))).toEqual({
    error: 'OAUTH_PROVIDER_UNAVAILABLE',
    state: back.state,
  });
  expect(await h.service.providers()).toEqual([]);
});
