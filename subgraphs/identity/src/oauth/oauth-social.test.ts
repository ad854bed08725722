import { randomUUID } from 'node:crypto';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import {
  createTestDatabase,
  startFakeFacebook,
  startFakeGitHub,
  type FakeFacebook,
  type FakeGitHub,
  type TestDatabase,
} from '@gatehouse/testing';
import {
  CALLBACK_BASE,
  appRedirect,
  callback,
  createHarness,
  signIn,
  throughProvider,
  type Harness,
} from './oauth-harness.test-support';
import { providerTokenAad } from './oauth.service';

// GitHub and Facebook are plain OAuth 2.0: local servers speak their authorize, token and profile endpoints.
let db: TestDatabase;
let github: FakeGitHub;
let facebook: FakeFacebook;
const kv = new MemoryKeyValueStore();
let h: Harness;
const app = (provider: string) => ({
  clientId: `${provider}-client`,
  clientSecret: `${provider}-secret`,
  redirectUris: [`${CALLBACK_BASE}/auth/oauth/${provider}/callback`],
});

beforeAll(async () => {
  [db, github, facebook] = await Promise.all([
    createTestDatabase(),
    startFakeGitHub(app('github')),
    startFakeFacebook({ ...app('facebook'), requireAppSecretProof: true }),
  ]);
  h = createHarness(db, kv, {
    GITHUB_CLIENT_ID: 'github-client',
    GITHUB_CLIENT_SECRET: 'github-secret',
    GITHUB_AUTHORIZE_URL: github.authorizeUrl,
    GITHUB_TOKEN_URL: github.tokenUrl,
    GITHUB_API_URL: github.apiUrl,
    FACEBOOK_CLIENT_ID: 'facebook-client',
    FACEBOOK_CLIENT_SECRET: 'facebook-secret',
    FACEBOOK_AUTHORIZE_URL: facebook.authorizeUrl,
    FACEBOOK_TOKEN_URL: facebook.tokenUrl,
    FACEBOOK_GRAPH_URL: facebook.graphUrl,
  });
});

afterAll(async () => {
  await Promise.all([db?.close(), github?.close(), facebook?.close(), kv.close()]);
});

const uniqueEmail = () => `${randomUUID()}@example.test`;
let nextId = 1000;

describe('GitHub', () => {
  it('signs up with the primary verified address and signs the same id in again', async () => {
    const email = uniqueEmail();
    const id = nextId++;
    github.setNextLogin({
      id,
      login: 'octo',
      name: null,
      email: null,
      emails: [
        { email: uniqueEmail(), primary: false, verified: false },
        { email, primary: true, verified: true },
      ],
    });
    const first = await signIn(h, 'github');
    expect(first).toMatchObject({ provider: 'github', isNewUser: true });
    const user = await db.prisma.user.findUniqueOrThrow({
      where: { id: first.userId },
      include: { profile: true, oauthAccounts: true },
    });
    expect(user).toMatchObject({ email, status: 'ACTIVE', emailVerified: true });
    expect(user.profile?.displayName).toBe('octo');
    const [row] = user.oauthAccounts;
    expect(row).toMatchObject({ providerAccountId: String(id), scope: 'read:user,user:email' });
    expect(
      h.cipher.decrypt(row!.accessTokenEncrypted!, providerTokenAad('github', String(id))).toString(),
    ).toMatch(/^gho_/);
    expect(await signIn(h, 'github')).toEqual({ userId: first.userId, provider: 'github', isNewUser: false });

    // What we sent: PKCE and the registered callback at the token endpoint, a User-Agent to the API.
    const tokenRequest = github.requests
      .filter((request) => request.path === '/login/oauth/access_token')
      .at(-1);
    expect(tokenRequest?.body).toMatchObject({
      client_id: 'github-client',
      redirect_uri: `${CALLBACK_BASE}/auth/oauth/github/callback`,
      code_verifier: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(github.requests.find((request) => request.path === '/user')?.headers['user-agent']).toBe(
      'Gatehouse',
    );
  });

  it('with only unverified addresses, creates an unverified account and asks for verification', async () => {
    const email = uniqueEmail();
    github.setNextLogin({
      id: nextId++,
      login: 'unverified',
      name: 'Una Verified',
      emails: [{ email, primary: true, verified: false }],
    });
    const back = await throughProvider(h, 'github');
    expect(appRedirect(await callback(h, 'github', back))).toEqual({
      error: 'ACCOUNT_NOT_VERIFIED',
      state: back.state,
    });
    expect(await db.prisma.user.findUnique({ where: { email } })).toMatchObject({
      status: 'PENDING_VERIFICATION',
      emailVerified: false,
    });
    expect(h.verificationRequests).toEqual([email]);
  });

  it('maps denied consent, token errors (HTTP 200 with error) and API failures', async () => {
    github.setNextLogin({ deny: true });
    const denied = await throughProvider(h, 'github');
    expect(appRedirect(await callback(h, 'github', denied))).toEqual({
      error: 'OAUTH_CONSENT_DENIED',
      state: denied.state,
    });

    github.setNextLogin({
      id: nextId++,
      login: 'x',
      emails: [{ email: uniqueEmail(), primary: true, verified: true }],
    });
    github.failNext('token', { status: 200, body: { error: 'bad_verification_code' } });
    const badCode = await throughProvider(h, 'github');
    expect(appRedirect(await callback(h, 'github', badCode))).toEqual({
      error: 'OAUTH_PROVIDER_ERROR',
      state: badCode.state,
    });
    github.failNext('emails', { status: 500, body: { message: 'Server Error' } });
    const apiDown = await throughProvider(h, 'github');
    expect(appRedirect(await callback(h, 'github', apiDown))).toEqual({
      error: 'OAUTH_PROVIDER_ERROR',
      state: apiDown.state,
    });
    const audited = await db.prisma.auditLog.findMany({
      where: { action: 'OAUTH_LOGIN_FAILED', metadata: { path: ['provider'], equals: 'github' } },
    });
    expect(audited.map((row) => row.metadata)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'OAUTH_CONSENT_DENIED' }),
        expect.objectContaining({
          reason: 'OAUTH_PROVIDER_ERROR',
          stage: 'token',
          providerCode: 'bad_verification_code',
        }),
        expect.objectContaining({ reason: 'OAUTH_PROVIDER_ERROR', stage: 'profile' }),
      ]),
    );
  });

  it('never uses a code twice: a replayed provider code fails at the token endpoint', async () => {
    github.setNextLogin({
      id: nextId++,
      login: 'y',
      emails: [{ email: uniqueEmail(), primary: true, verified: true }],
    });
    const back = await throughProvider(h, 'github');
    appRedirect(await callback(h, 'github', back));
    // A fresh flow presenting the old code: our state is new, GitHub refuses the code.
    const fresh = await throughProvider(h, 'github');
    const replay = new URLSearchParams(fresh.query);
    replay.set('code', back.query.get('code')!);
    expect(appRedirect(await callback(h, 'github', { ...fresh, query: replay }))).toEqual({
      error: 'OAUTH_PROVIDER_ERROR',
      state: fresh.state,
    });
  });
});

describe('Facebook', () => {
  it('treats the address as unverified: a new account waits for verification', async () => {
    const email = uniqueEmail();
    facebook.setNextLogin({ id: `fb-${randomUUID()}`, name: 'Fay Book', email });
    const back = await throughProvider(h, 'facebook');
    expect(appRedirect(await callback(h, 'facebook', back))).toEqual({
      error: 'ACCOUNT_NOT_VERIFIED',
      state: back.state,
    });
    const user = await db.prisma.user.findUniqueOrThrow({
      where: { email },
      include: { profile: true, oauthAccounts: true },
    });
    expect(user).toMatchObject({ status: 'PENDING_VERIFICATION', profile: { displayName: 'Fay Book' } });
    expect(user.oauthAccounts).toMatchObject([
      { provider: 'facebook', emailVerified: false, tokenExpiresAt: expect.any(Date) },
    ]);
    expect(h.verificationRequests).toContain(email);
  });

  it('never links to an existing verified account by address', async () => {
    const email = uniqueEmail();
    const existing = await db.prisma.user.create({
      data: { email, status: 'ACTIVE', emailVerified: true, passwordHash: 'x' },
    });
    facebook.setNextLogin({ id: `fb-${randomUUID()}`, email });
    const back = await throughProvider(h, 'facebook');
    expect(appRedirect(await callback(h, 'facebook', back))).toEqual({
      error: 'OAUTH_EMAIL_IN_USE',
      state: back.state,
    });
    expect(await db.prisma.oAuthAccount.count({ where: { userId: existing.id } })).toBe(0);
  });

  it('signs in a linked, verified user; refuses an account without an address', async () => {
    const userId = (
      await db.prisma.user.create({ data: { email: uniqueEmail(), status: 'ACTIVE', emailVerified: true } })
    ).id;
    const fbId = `fb-${randomUUID()}`;
    facebook.setNextLogin({ id: fbId, name: 'Linked' });
    const link = await throughProvider(h, 'facebook', { linkUserId: userId });
    expect(appRedirect(await callback(h, 'facebook', link))).toEqual({
      linked: 'facebook',
      state: link.state,
    });
    expect(await signIn(h, 'facebook')).toEqual({ userId, provider: 'facebook', isNewUser: false });

    facebook.setNextLogin({ id: `fb-${randomUUID()}`, name: 'Phone Only' });
    const noEmail = await throughProvider(h, 'facebook');
    expect(appRedirect(await callback(h, 'facebook', noEmail))).toEqual({
      error: 'OAUTH_EMAIL_REQUIRED',
      state: noEmail.state,
    });
  });

  it('maps denied consent and Graph API errors', async () => {
    facebook.setNextLogin({ deny: true });
    const denied = await throughProvider(h, 'facebook');
    expect(appRedirect(await callback(h, 'facebook', denied))).toEqual({
      error: 'OAUTH_CONSENT_DENIED',
      state: denied.state,
    });
    facebook.setNextLogin({ id: `fb-${randomUUID()}`, email: uniqueEmail() });
    facebook.failNext('me', {
      status: 400,
      body: { error: { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190 } },
    });
    const broken = await throughProvider(h, 'facebook');
    expect(appRedirect(await callback(h, 'facebook', broken))).toEqual({
      error: 'OAUTH_PROVIDER_ERROR',
      state: broken.state,
    });
    facebook.failNext('token', {
      status: 400,
      body: { error: { message: 'Error validating client secret.', type: 'OAuthException', code: 1 } },
    });
    const badSecret = await throughProvider(h, 'facebook');
    expect(appRedirect(await callback(h, 'facebook', badSecret))).toEqual({
      error: 'OAUTH_PROVIDER_ERROR',
      state: badSecret.state,
    });
  });
});
