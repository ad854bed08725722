import { randomUUID } from 'node:crypto';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  startTestOidcProvider,
  uniqueTestPrefix,
  type TestDatabase,
  type TestOidcProvider,
} from '@gatehouse/testing';
import {
  CALLBACK_BASE,
  CLIENT,
  appRedirect,
  callback,
  createHarness,
  failure,
  signIn,
  throughProvider,
  type Harness,
} from './oauth-harness.test-support';
import { BINDING_COOKIE, COMPLETION_COOKIE, providerTokenAad } from './oauth.service';

// A real OpenID provider stands in for Google (GOOGLE_ISSUER) and for a generic `oidc-acme` provider.
const google = { clientId: 'google-client', clientSecret: 'google-secret' };
const acme = { clientId: 'acme-client', clientSecret: 'acme-secret' };

let db: TestDatabase;
let idp: TestOidcProvider;
let kv: KeyValueStore;
let h: Harness;
const redisUrl = redisUrlForTests('@gatehouse/subgraph-identity oauth (OIDC)');
const redisPrefix = uniqueTestPrefix();

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    GOOGLE_CLIENT_ID: google.clientId,
    GOOGLE_CLIENT_SECRET: google.clientSecret,
    GOOGLE_ISSUER: idp.issuer,
    OIDC_PROVIDERS: 'acme',
    OIDC_ACME_ISSUER: idp.issuer,
    OIDC_ACME_CLIENT_ID: acme.clientId,
    OIDC_ACME_CLIENT_SECRET: acme.clientSecret,
    OIDC_ACME_DISPLAY_NAME: 'Acme SSO',
    ...overrides,
  };
}

beforeAll(async () => {
  [db, idp] = await Promise.all([
    createTestDatabase(),
    startTestOidcProvider({
      clients: [
        { ...google, redirectUris: [`${CALLBACK_BASE}/auth/oauth/google/callback`] },
        {
          ...acme,
          redirectUris: [`${CALLBACK_BASE}/auth/oauth/oidc-acme/callback`],
          tokenEndpointAuthMethod: 'client_secret_post',
        },
      ],
    }),
  ]);
  kv = redisUrl ? createKeyValueStore({ redisUrl, prefix: redisPrefix }) : new MemoryKeyValueStore();
  h = createHarness(db, kv, env());
  await db.prisma.role.create({ data: { name: 'member' } });
}, 30_000);

afterAll(async () => {
  await Promise.all([db?.close(), idp?.close(), kv?.close()]);
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

const uniqueEmail = () => `${randomUUID()}@example.test`;

async function audits(action: string, userId?: string) {
  return db.prisma.auditLog.findMany({
    where: { action, ...(userId ? { targetId: userId } : {}) },
    orderBy: { createdAt: 'asc' },
  });
}

describe('OAuth with OpenID Connect providers', () => {
  it('offers only configured providers and refuses the others', async () => {
    expect(await h.service.providers()).toEqual([
      { key: 'google', displayName: 'Google' },
      { key: 'oidc-acme', displayName: 'Acme SSO' },
    ]);
    for (const provider of ['facebook', 'github', 'oidc-other']) {
      expect(
        await failure(
          h.service.start({ provider, redirectUri: 'http://app.test/oauth/done', binding: 'client' }),
        ),
      ).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'OAUTH_PROVIDER_UNAVAILABLE',
      });
    }
  });

  it('accepts only redirect URIs on the allow-list, exactly', async () => {
    for (const redirectUri of [
      'http://app.test/oauth/done/',
      'http://app.test/oauth/done?x=1',
      'https://evil.test/',
    ]) {
      expect(await failure(h.service.start({ provider: 'google', redirectUri, binding: 'client' }))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'OAUTH_REDIRECT_URI_NOT_ALLOWED',
      });
    }
    const started = await h.service.start({
      provider: 'google',
      redirectUri: 'http://app.test/other',
      binding: 'client',
    });
    const url = new URL(started.authorizationUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${idp.issuer}/auth`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: google.clientId,
      redirect_uri: `${CALLBACK_BASE}/auth/oauth/google/callback`,
      scope: 'openid email profile',
      state: started.state,
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: 'S256',
    });
  });

  it('signs up a new user with a verified address: ACTIVE, verified, named, member, tokens encrypted', async () => {
    const email = uniqueEmail();
    await idp.setNextLogin({
      sub: `g-${randomUUID()}`,
      email: email.toUpperCase(),
      email_verified: true,
      name: 'Ada Lovelace',
    });
    const result = await signIn(h, 'google');
    expect(result).toEqual({ userId: expect.any(String), provider: 'google', isNewUser: true });

    const user = await db.prisma.user.findUniqueOrThrow({
      where: { id: result.userId },
      include: { profile: true, oauthAccounts: true, roles: { include: { role: true } } },
    });
    expect(user).toMatchObject({ email, status: 'ACTIVE', emailVerified: true, passwordHash: null });
    expect(user.emailVerifiedAt).toEqual(expect.any(Date));
    expect(user.profile?.displayName).toBe('Ada Lovelace');
    expect(user.roles.map((grant) => grant.role.name)).toEqual(['member']);
    const [row] = user.oauthAccounts;
    expect(row).toMatchObject({
      provider: 'google',
      email,
      emailVerified: true,
      tokenExpiresAt: expect.any(Date),
    });
    // Encrypted at rest, bound to the identity: decrypts only with its associated data.
    const accessToken = h.cipher
      .decrypt(row!.accessTokenEncrypted!, providerTokenAad('google', row!.providerAccountId))
      .toString();
    expect(accessToken.length).toBeGreaterThan(20);
    expect(row!.accessTokenEncrypted).not.toContain(accessToken);
    expect(() =>
      h.cipher.decrypt(row!.accessTokenEncrypted!, providerTokenAad('google', 'someone-else')),
    ).toThrow();

    expect(await audits('OAUTH_SIGN_UP', result.userId)).toHaveLength(1);
    const [succeeded] = await audits('OAUTH_LOGIN_SUCCEEDED', result.userId);
    expect(succeeded).toMatchObject({
      ipAddress: CLIENT.ip,
      metadata: { provider: 'google', isNewUser: true },
    });
    expect(JSON.stringify(succeeded)).not.toContain(accessToken);
  });

  it('signs the same identity in again (same user) and refreshes its tokens', async () => {
    const sub = `g-${randomUUID()}`;
    await idp.setNextLogin({ sub, email: uniqueEmail(), email_verified: true });
    const first = await signIn(h, 'google');
    const before = await db.prisma.oAuthAccount.findFirstOrThrow({ where: { userId: first.userId } });
    const again = await signIn(h, 'google');
    expect(again).toEqual({ userId: first.userId, provider: 'google', isNewUser: false });
    const after = await db.prisma.oAuthAccount.findFirstOrThrow({ where: { userId: first.userId } });
    expect(after.accessTokenEncrypted).not.toBe(before.accessTokenEncrypted);
    expect(await db.prisma.oAuthAccount.count({ where: { userId: first.userId } })).toBe(1);
  });

  it('works with a generic OIDC provider (client_secret_post), keyed oidc-<name>', async () => {
    await idp.setNextLogin({ sub: `a-${randomUUID()}`, email: uniqueEmail(), email_verified: true });
    const result = await signIn(h, 'oidc-acme');
    expect(result).toMatchObject({ provider: 'oidc-acme', isNewUser: true });
    expect(await h.service.listLinked(result.userId)).toEqual([
      {
        provider: 'oidc-acme',
        displayName: 'Acme SSO',
        email: expect.any(String),
        emailVerified: true,
        linkedAt: expect.any(Date),
      },
    ]);
  });

  describe('e-mail matching', () => {
    async function existingUser(emailVerified: boolean) {
      const email = uniqueEmail();
      const user = await db.prisma.user.create({
        data: {
          email,
          emailVerified,
          status: emailVerified ? 'ACTIVE' : 'PENDING_VERIFICATION',
          passwordHash: 'x',
        },
      });
      return { email, id: user.id };
    }

    it('links automatically when the provider and the account both verified the address', async () => {
      const user = await existingUser(true);
      await idp.setNextLogin({ sub: `g-${randomUUID()}`, email: user.email, email_verified: true });
      expect(await signIn(h, 'google')).toEqual({ userId: user.id, provider: 'google', isNewUser: false });
      const [linked] = await audits('OAUTH_ACCOUNT_LINKED', user.id);
      expect(linked?.metadata).toMatchObject({ provider: 'google', automatic: true, outcome: 'SUCCESS' });
    });

    it.each([
      ['the provider did not verify it', true, false],
      ['the account did not verify it', false, true],
      ['neither verified it', false, false],
    ])('refuses with OAUTH_EMAIL_IN_USE when %s', async (_case, accountVerified, providerVerified) => {
      const user = await existingUser(accountVerified);
      await idp.setNextLogin({
        sub: `g-${randomUUID()}`,
        email: user.email,
        email_verified: providerVerified,
      });
      const back = await throughProvider(h, 'google');
      expect(appRedirect(await callback(h, 'google', back))).toEqual({
        error: 'OAUTH_EMAIL_IN_USE',
        state: back.state,
      });
      expect(await db.prisma.oAuthAccount.count({ where: { userId: user.id } })).toBe(0);
      expect(await db.prisma.user.count({ where: { email: user.email } })).toBe(1);
    });

    it('creates an unverified user for an unverified address, asks for verification, and keeps refusing until verified', async () => {
      const email = uniqueEmail();
      const sub = `g-${randomUUID()}`;
      await idp.setNextLogin({ sub, email, email_verified: false, name: 'Unverified' });
      const back = await throughProvider(h, 'google');
      expect(appRedirect(await callback(h, 'google', back))).toEqual({
        error: 'ACCOUNT_NOT_VERIFIED',
        state: back.state,
      });
      const user = await db.prisma.user.findUniqueOrThrow({
        where: { email },
        include: { oauthAccounts: true },
      });
      expect(user).toMatchObject({ status: 'PENDING_VERIFICATION', emailVerified: false });
      expect(user.oauthAccounts).toMatchObject([
        { provider: 'google', providerAccountId: sub, emailVerified: false },
      ]);
      expect(h.verificationRequests).toContain(email);
      expect(await audits('OAUTH_SIGN_UP', user.id)).toMatchObject([{ metadata: { emailVerified: false } }]);

      const again = await throughProvider(h, 'google');
      expect(appRedirect(await callback(h, 'google', again))).toEqual({
        error: 'ACCOUNT_NOT_VERIFIED',
        state: again.state,
      });
      expect(await db.prisma.user.count({ where: { email } })).toBe(1);

      await db.prisma.user.update({
        where: { id: user.id },
        data: { status: 'ACTIVE', emailVerified: true },
      });
      expect(await signIn(h, 'google')).toEqual({ userId: user.id, provider: 'google', isNewUser: false });
    });

    it('refuses a sign-up without an address (OAUTH_EMAIL_REQUIRED) and a suspended user (ACCOUNT_DEACTIVATED)', async () => {
      await idp.setNextLogin({ sub: `g-${randomUUID()}` });
      const back = await throughProvider(h, 'google');
      expect(appRedirect(await callback(h, 'google', back))).toEqual({
        error: 'OAUTH_EMAIL_REQUIRED',
        state: back.state,
      });

      const sub = `g-${randomUUID()}`;
      await idp.setNextLogin({ sub, email: uniqueEmail(), email_verified: true });
      const { userId } = await signIn(h, 'google');
      await db.prisma.user.update({ where: { id: userId }, data: { status: 'SUSPENDED' } });
      const suspended = await throughProvider(h, 'google');
      expect(appRedirect(await callback(h, 'google', suspended))).toEqual({
        error: 'ACCOUNT_DEACTIVATED',
        state: suspended.state,
      });
      expect(await audits('OAUTH_LOGIN_FAILED', userId)).toMatchObject([
        { metadata: { reason: 'ACCOUNT_DEACTIVATED' } },
      ]);
    });
  });

  describe('state', () => {
    beforeAll(() =>
      idp.setNextLogin({ sub: `g-${randomUUID()}`, email: uniqueEmail(), email_verified: true }),
    );

    it('is consumed once: a replayed callback is refused with 400 OAUTH_STATE_INVALID', async () => {
      const back = await throughProvider(h, 'google');
      expect(appRedirect(await callback(h, 'google', back))).toMatchObject({ code: expect.any(String) });
      const replay = await callback(h, 'google', back);
      expect(replay).toMatchObject({ status: 400, contentType: expect.stringContaining('application/json') });
      expect(JSON.parse(replay.body!)).toMatchObject({ error: 'OAUTH_STATE_INVALID' });
      expect(replay.location).toBeUndefined();
    });

    it('lets exactly one of two concurrent callbacks with one state through', async () => {
      const back = await throughProvider(h, 'google');
      const answers = await Promise.all([callback(h, 'google', back), callback(h, 'google', back)]);
      expect(answers.map((answer) => answer.status).sort()).toEqual([302, 400]);
    });

    it('refuses an unknown, malformed or missing state, and a state of another provider', async () => {
      const back = await throughProvider(h, 'google');
      for (const state of ['A'.repeat(43), 'short', null]) {
        const query = new URLSearchParams(back.query);
        if (state === null) query.delete('state');
        else query.set('state', state);
        expect((await callback(h, 'google', { ...back, query })).status).toBe(400);
      }
      expect((await callback(h, 'oidc-acme', back)).status).toBe(400);
      // The other provider's callback consumed it.
      expect((await callback(h, 'google', back)).status).toBe(400);
    });

    it('expires after 10 minutes', async () => {
      const back = await throughProvider(h, 'google');
      h.advance(601_000);
      try {
        expect((await callback(h, 'google', back)).status).toBe(400);
      } finally {
        h.clock.now = new Date();
      }
    });

    it('binds REST-started flows to the browser cookie', async () => {
      const started = await h.service.start({
        provider: 'google',
        redirectUri: 'http://app.test/oauth/done',
        binding: 'cookie',
      });
      expect(started.setCookie).toEqual([
        `${BINDING_COOKIE}=${started.browserBinding}; Path=/auth/oauth; Max-Age=600; HttpOnly; SameSite=Lax`,
      ]);
      const clear = `${BINDING_COOKIE}=; Path=/auth/oauth; Max-Age=0; HttpOnly; SameSite=Lax`;

      for (const browserBinding of [null, 'x'.repeat(43)]) {
        const back = await throughProvider(h, 'google', { binding: 'cookie' });
        const answer = await callback(h, 'google', { ...back, browserBinding });
        expect(answer).toMatchObject({ status: 400 });
        expect(answer.setCookie ?? [clear]).toEqual([clear]);
        // The state is gone: the right browser cannot use it afterwards either.
        expect((await callback(h, 'google', back)).status).toBe(400);
      }
      const back = await throughProvider(h, 'google', { binding: 'cookie' });
      const answer = await callback(h, 'google', back);
      const landed = appRedirect(answer);
      expect(landed).toMatchObject({ code: expect.any(String), state: back.state });
      // Issue #14: the binding moves on to the completion, which the forwarded redirect alone cannot pass.
      expect(answer.setCookie).toEqual([
        clear,
        `${COMPLETION_COOKIE}=${back.browserBinding}; Path=/graphql; Max-Age=120; HttpOnly; SameSite=Lax`,
      ]);
      expect(
        await h.service.completeSignIn(landed.code!, back.state, undefined, back.browserBinding),
      ).toMatchObject({ provider: 'google' });
    });
  });

  describe('completeSignIn', () => {
    beforeAll(() =>
      idp.setNextLogin({ sub: `g-${randomUUID()}`, email: uniqueEmail(), email_verified: true }),
    );

    it('redeems a result code once, only with the state it was minted for, within 2 minutes', async () => {
      const back = await throughProvider(h, 'google');
      const { code } = appRedirect(await callback(h, 'google', back));
      expect(await h.service.completeSignIn(code!, back.state)).toMatchObject({ provider: 'google' });
      expect(await failure(h.service.completeSignIn(code!, back.state))).toEqual({
        code: 'UNAUTHENTICATED',
        reason: 'OAUTH_CODE_INVALID',
      });

      const other = await throughProvider(h, 'google');
      const { code: otherCode } = appRedirect(await callback(h, 'google', other));
      expect(await failure(h.service.completeSignIn(otherCode!, back.state, CLIENT))).toEqual({
        code: 'UNAUTHENTICATED',
        reason: 'OAUTH_STATE_INVALID',
      });
      // A wrong state burns the code: the attacker's code cannot be retried.
      expect(await failure(h.service.completeSignIn(otherCode!, other.state))).toMatchObject({
        reason: 'OAUTH_CODE_INVALID',
      });

      const late = await throughProvider(h, 'google');
      const { code: lateCode } = appRedirect(await callback(h, 'google', late));
      h.advance(121_000);
      try {
        expect(await failure(h.service.completeSignIn(lateCode!, late.state))).toMatchObject({
          reason: 'OAUTH_CODE_INVALID',
        });
      } finally {
        h.clock.now = new Date();
      }
      expect(await failure(h.service.completeSignIn('not-a-code', late.state))).toMatchObject({
        reason: 'OAUTH_CODE_INVALID',
      });
    });
  });

  describe('provider failures', () => {
    it('redirects with OAUTH_CONSENT_DENIED when the user cancels', async () => {
      await idp.setNextLogin({ deny: true });
      const back = await throughProvider(h, 'google');
      expect(back.query.get('error')).toBe('access_denied');
      expect(appRedirect(await callback(h, 'google', back))).toEqual({
        error: 'OAUTH_CONSENT_DENIED',
        state: back.state,
      });
      const failed = await db.prisma.auditLog.findFirst({
        where: {
          action: 'OAUTH_LOGIN_FAILED',
          requestId: CLIENT.requestId,
          metadata: { path: ['reason'], equals: 'OAUTH_CONSENT_DENIED' },
        },
      });
      expect(failed?.metadata).toMatchObject({ provider: 'google', providerCode: 'access_denied' });
    });

    it('redirects with OAUTH_PROVIDER_ERROR for other provider errors, a refused token exchange and a wrong iss', async () => {
      await idp.setNextLogin({ sub: `g-${randomUUID()}`, email: uniqueEmail(), email_verified: true });
      const errored = await throughProvider(h, 'google');
      const query = new URLSearchParams({ state: errored.state, error: 'server_error' });
      expect(appRedirect(await callback(h, 'google', { ...errored, query }))).toEqual({
        error: 'OAUTH_PROVIDER_ERROR',
        state: errored.state,
      });

      const mixUp = await throughProvider(h, 'google');
      mixUp.query.set('iss', 'https://attacker.test');
      expect(appRedirect(await callback(h, 'google', mixUp))).toEqual({
        error: 'OAUTH_PROVIDER_ERROR',
        state: mixUp.state,
      });

      const logs: string[] = [];
      const wrongSecret = createHarness(db, kv, env({ GOOGLE_CLIENT_SECRET: 'not-the-secret' }), {
        logger: { warn: (details, message) => logs.push(JSON.stringify({ details, message })) },
      });
      const back = await throughProvider(wrongSecret, 'google');
      expect(appRedirect(await callback(wrongSecret, 'google', back))).toEqual({
        error: 'OAUTH_PROVIDER_ERROR',
        state: back.state,
      });
      expect(logs).toEqual([expect.stringContaining('"providerCode":"invalid_client"')]);
      expect(logs.join()).not.toContain('not-the-secret');
      expect(logs.join()).not.toContain(back.query.get('code')!);
      expect(logs.join()).not.toContain(back.state);
      const failed = await db.prisma.auditLog.findFirst({
        where: {
          action: 'OAUTH_LOGIN_FAILED',
          metadata: { path: ['providerCode'], equals: 'invalid_client' },
        },
      });
      expect(failed?.metadata).toMatchObject({ reason: 'OAUTH_PROVIDER_ERROR', stage: 'token' });
    });

    it('rejects an ID token whose signature does not verify', async () => {
      // A man in the middle of the token response: the provider is real, its answer altered in transit.
      const tampering: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).endsWith('/token')) return response;
        const body = (await response.json()) as { id_token: string };
        const [header, payload] = body.id_token.split('.');
        const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
        const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
        body.id_token = [header, forged, body.id_token.split('.')[2]].join('.');
        return new Response(JSON.stringify(body), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        });
      };
      const mitm = createHarness(db, kv, env(), { fetch: tampering });
      await idp.setNextLogin({ sub: `g-${randomUUID()}`, email: uniqueEmail(), email_verified: true });
      const back = await throughProvider(mitm, 'google');
      expect(appRedirect(await callback(mitm, 'google', back))).toEqual({
        error: 'OAUTH_PROVIDER_ERROR',
        state: back.state,
      });
      const failed = await db.prisma.auditLog.findFirst({
        where: { action: 'OAUTH_LOGIN_FAILED', metadata: { path: ['stage'], equals: 'id_token' } },
      });
      expect(failed).not.toBeNull();
      expect(await db.prisma.oAuthAccount.count({ where: { providerAccountId: 'someone-else' } })).toBe(0);
    });

    it('answers 503 OAUTH_PROVIDER_ERROR at start when discovery cannot be fetched', async () => {
      const down = createHarness(db, kv, env({ GOOGLE_ISSUER: 'http://127.0.0.1:9' }));
      expect(
        await failure(
          down.service.start({
            provider: 'google',
            redirectUri: 'http://app.test/oauth/done',
            binding: 'client',
          }),
        ),
      ).toEqual({
        code: 'SERVICE_UNAVAILABLE',
        reason: 'OAUTH_PROVIDER_ERROR',
      });
    });
  });

  describe('linking', () => {
    async function passwordUser() {
      const user = await db.prisma.user.create({
        data: { email: uniqueEmail(), emailVerified: true, status: 'ACTIVE', passwordHash: 'argon2-hash' },
      });
      return user.id;
    }

    it('links a provider to a signed-in user, whatever its address, and lists it', async () => {
      const userId = await passwordUser();
      await idp.setNextLogin({ sub: `g-${randomUUID()}`, email: uniqueEmail(), email_verified: false });
      const back = await throughProvider(h, 'google', { linkUserId: userId });
      expect(appRedirect(await callback(h, 'google', back))).toEqual({ linked: 'google', state: back.state });
      expect(await h.service.listLinked(userId)).toEqual([
        {
          provider: 'google',
          displayName: 'Google',
          email: expect.any(String),
          emailVerified: false,
          linkedAt: expect.any(Date),
        },
      ]);
      expect(JSON.stringify(await h.service.listLinked(userId))).not.toMatch(/Encrypted|token/i);
      expect(await audits('OAUTH_ACCOUNT_LINKED', userId)).toMatchObject([
        { actorUserId: userId, metadata: { provider: 'google' } },
      ]);
    });

    it('refuses a second account of the same provider and an identity linked to someone else', async () => {
      const alice = await passwordUser();
      const bob = await passwordUser();
      const aliceSub = `g-${randomUUID()}`;
      await idp.setNextLogin({ sub: aliceSub, email: uniqueEmail(), email_verified: true });
      appRedirect(await callback(h, 'google', await throughProvider(h, 'google', { linkUserId: alice })));

      // Alice again, with the same identity and with another one.
      const same = await throughProvider(h, 'google', { linkUserId: alice });
      expect(appRedirect(await callback(h, 'google', same))).toEqual({
        error: 'OAUTH_PROVIDER_ALREADY_LINKED',
        state: same.state,
      });
      await idp.setNextLogin({ sub: `g-${randomUUID()}`, email: uniqueEmail(), email_verified: true });
      const second = await throughProvider(h, 'google', { linkUserId: alice });
      expect(appRedirect(await callback(h, 'google', second))).toEqual({
        error: 'OAUTH_PROVIDER_ALREADY_LINKED',
        state: second.state,
      });

      // Bob with Alice's identity.
      await idp.setNextLogin({ sub: aliceSub, email: uniqueEmail(), email_verified: true });
      const stolen = await throughProvider(h, 'google', { linkUserId: bob });
      expect(appRedirect(await callback(h, 'google', stolen))).toEqual({
        error: 'OAUTH_ACCOUNT_LINKED_ELSEWHERE',
        state: stolen.state,
      });
      expect(await h.service.listLinked(bob)).toEqual([]);
      expect(await audits('OAUTH_ACCOUNT_LINKED', bob)).toMatchObject([
        { metadata: { reason: 'OAUTH_ACCOUNT_LINKED_ELSEWHERE', outcome: 'FAILURE' } },
      ]);
    });

    it("with linkCompletion 'app', links only when the user who started it presents code and state", async () => {
      const app = createHarness(db, kv, env(), { linkCompletion: 'app' });
      const alice = await passwordUser();
      const mallory = await passwordUser();
      await idp.setNextLogin({ sub: `g-${randomUUID()}`, email: uniqueEmail(), email_verified: true });
      const back = await throughProvider(app, 'google', { linkUserId: alice });
      const { code } = appRedirect(await callback(app, 'google', back));
      expect(await h.service.listLinked(alice)).toEqual([]);
      expect(await failure(app.service.completeSignIn(code!, back.state))).toMatchObject({
        reason: 'OAUTH_CODE_INVALID',
      });

      const again = await throughProvider(app, 'google', { linkUserId: alice });
      const { code: code2 } = appRedirect(await callback(app, 'google', again));
      expect(await failure(app.service.completeLink(code2!, again.state, mallory))).toMatchObject({
        reason: 'OAUTH_STATE_INVALID',
      });

      const third = await throughProvider(app, 'google', { linkUserId: alice });
      const { code: code3 } = appRedirect(await callback(app, 'google', third));
      expect(await app.service.completeLink(code3!, third.state, alice, CLIENT)).toMatchObject({
        provider: 'google',
        displayName: 'Google',
      });
      expect(await app.service.listLinked(alice)).toHaveLength(1);

      const fourth = await throughProvider(app, 'google', { linkUserId: mallory });
      const { code: code4 } = appRedirect(await callback(app, 'google', fourth));
      expect(await failure(app.service.completeLink(code4!, fourth.state, mallory))).toEqual({
        code: 'CONFLICT',
        reason: 'OAUTH_ACCOUNT_LINKED_ELSEWHERE',
      });
    });
  });

  describe('unlinking', () => {
    it('unlinks while another way to sign in remains, never the last one', async () => {
      await idp.setNextLogin({ sub: `g-${randomUUID()}`, email: uniqueEmail(), email_verified: true });
      const { userId } = await signIn(h, 'google');
      expect(await failure(h.service.unlink(userId, 'google', CLIENT))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'OAUTH_LAST_SIGN_IN_METHOD',
      });
      expect(await failure(h.service.unlink(userId, 'github'))).toEqual({
        code: 'NOT_FOUND',
        reason: 'OAUTH_ACCOUNT_NOT_FOUND',
      });

      await idp.setNextLogin({ sub: `a-${randomUUID()}`, email: uniqueEmail(), email_verified: true });
      appRedirect(
        await callback(h, 'oidc-acme', await throughProvider(h, 'oidc-acme', { linkUserId: userId })),
      );
      // Two concurrent unlinks: the user row lock lets exactly one through.
      const outcomes = await Promise.allSettled([
        h.service.unlink(userId, 'google'),
        h.service.unlink(userId, 'oidc-acme'),
      ]);
      expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(await h.service.listLinked(userId)).toHaveLength(1);
      expect(await audits('OAUTH_ACCOUNT_UNLINKED', userId)).toHaveLength(4);

      await db.prisma.user.update({ where: { id: userId }, data: { passwordHash: 'now-has-a-password' } });
      const [remaining] = await h.service.listLinked(userId);
      await h.service.unlink(userId, remaining!.provider, CLIENT);
      expect(await h.service.listLinked(userId)).toEqual([]);
    });
  });
});
