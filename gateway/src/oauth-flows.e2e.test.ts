// Issue #4: social sign-in through the gateway over HTTP. A real OpenID Connect provider (oidc-provider, in a child
// process) stands in for Google; a local server speaking GitHub's OAuth and REST endpoints stands in for GitHub.
// The test plays the browser: it follows every redirect, carrying cookies per origin.
import { createPasswordHasher, OWASP_ARGON2ID } from '@gatehouse/crypto';
import { postGraphQL } from '@gatehouse/service/testing';
import {
  followOAuthRedirects,
  startFakeGitHub,
  startTestOidcProvider,
  startTestSmtpServer,
  totp,
  type FakeGitHub,
  type TestOidcProvider,
  type TestSmtpServer,
} from '@gatehouse/testing';
import { freePort, startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const APP = 'https://app.example.test/oauth/done';
const PASSWORD = 'correct horse battery staple 42';
const PASSWORD_USER = 'margaret@example.test';

let google: TestOidcProvider;
let github: FakeGitHub;
let supergraph: Supergraph;
let gatewayOrigin: string;
let smtp: TestSmtpServer;

beforeAll(async () => {
  const port = await freePort();
  gatewayOrigin = `http://127.0.0.1:${port}`;
  const client = (provider: string) => ({
    clientId: `gatehouse-${provider}`,
    clientSecret: `secret-${provider}-0123456789abcdef`,
    redirectUris: [`${gatewayOrigin}/auth/oauth/${provider}/callback`],
  });
  google = await startTestOidcProvider({ clients: [client('google')] });
  github = await startFakeGitHub(client('github'));
  smtp = await startTestSmtpServer();
  const passwordHash = await createPasswordHasher(OWASP_ARGON2ID).hash(PASSWORD);
  supergraph = await startSupergraph({
    gatewayPort: port,
    seed: async (prisma) => {
      await prisma.user.create({
        data: { email: PASSWORD_USER, status: 'ACTIVE', emailVerified: true, passwordHash },
      });
    },
    identityEnv: {
      GOOGLE_CLIENT_ID: client('google').clientId,
      GOOGLE_CLIENT_SECRET: client('google').clientSecret,
      GOOGLE_ISSUER: google.issuer,
      GITHUB_CLIENT_ID: client('github').clientId,
      GITHUB_CLIENT_SECRET: client('github').clientSecret,
      GITHUB_AUTHORIZE_URL: github.authorizeUrl,
      GITHUB_TOKEN_URL: github.tokenUrl,
      GITHUB_API_URL: github.apiUrl,
      OAUTH_REDIRECT_ALLOWLIST: APP,
      SMTP_URL: smtp.url,
      PUBLIC_URL: 'https://id.example.test',
    },
  });
});

afterAll(async () => {
  await supergraph?.close();
  await github?.close();
  await google?.close();
  await smtp?.close();
});

interface GraphQLErrorShape {
  extensions?: { code?: string; details?: { reason?: string } };
}
type Body<T> = { data?: T | null; errors?: GraphQLErrorShape[] };

const gql = async <T = Record<string, unknown>>(query: string, variables?: object, token?: string) =>
  (
    await postGraphQL<T>(supergraph.graphqlUrl, query, {
      ...(variables ? { variables: variables as Record<string, unknown> } : {}),
      ...(token ? { token } : {}),
    })
  ).body as Body<T>;
const reasonOf = (body: Body<unknown>) => body.errors?.[0]?.extensions?.details?.reason;

const START = `mutation($p: String!, $r: String!) { startOAuth(provider: $p, redirectUri: $r) { authorizationUrl state } }`;
const LINK = `mutation($p: String!, $r: String!) { linkOAuthAccount(provider: $p, redirectUri: $r) { authorizationUrl state } }`;
const COMPLETE = `mutation($c: String!, $s: String!) { completeOAuthLogin(code: $c, state: $s) {
  __typename ... on AuthPayload { accessToken user { email } } ... on MfaChallenge { mfaToken methods } } }`;
type CompleteData = {
  completeOAuthLogin:
    | { __typename: 'AuthPayload'; accessToken: string; user: { email: string } }
    | { __typename: 'MfaChallenge'; mfaToken: string; methods: string[] };
};

/** The browser's cookies for the gateway, as a Cookie header. */
const cookieHeaderOf = (browser: Map<string, Map<string, string>>) =>
  [...(browser.get(gatewayOrigin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');

/** The app's page in `browser` finishes a REST-started flow: completeOAuthLogin with that browser's cookies. */
const completeIn = async (browser: Map<string, Map<string, string>>, landed: URL) => {
  const cookie = cookieHeaderOf(browser);
  return (
    await postGraphQL<CompleteData>(supergraph.graphqlUrl, COMPLETE, {
      variables: { c: landed.searchParams.get('code'), s: landed.searchParams.get('state') },
      ...(cookie ? { headers: { cookie } } : {}),
    })
  ).body as Body<CompleteData>;
};

/** The browser, from the authorization URL to the app's redirect URI (the provider's user acts as told). */
const browseToApp = (start: string, cookies?: Map<string, Map<string, string>>) =>
  followOAuthRedirects(start, { until: (url) => url.href.startsWith(APP), ...(cookies ? { cookies } : {}) });

/** GraphQL form: startOAuth, the redirect dance, then the app's redirect URL (code + state, or error). */
async function startAndBrowse(provider: string) {
  const started = await gql<{ startOAuth: { authorizationUrl: string; state: string } }>(START, {
    p: provider,
    r: APP,
  });
  expect(started.errors).toBeUndefined();
  const { authorizationUrl, state } = started.data!.startOAuth;
  return { state, landed: await browseToApp(authorizationUrl) };
}

async function signInWith(provider: string) {
  const { state, landed } = await startAndBrowse(provider);
  expect(landed.searchParams.get('error')).toBeNull();
  expect(landed.searchParams.get('state')).toBe(state);
  return gql<CompleteData>(COMPLETE, { c: landed.searchParams.get('code'), s: state });
}

it('offers the configured providers only', async () => {
  const { data } = await gql<{ oauthProviders: { key: string; displayName: string }[] }>(
    `{ oauthProviders { key displayName } }`,
  );
  expect(data!.oauthProviders.map((p) => p.key).sort()).toEqual(['github', 'google']);
});

it('signs up with Google (OpenID Connect): tokens, the linked provider, and the result code works once', async () => {
  await google.setNextLogin({
    sub: 'google-ada',
    email: 'ada@example.test',
    email_verified: true,
    name: 'Ada',
  });
  // A result code presented with another browser's state (here a guess) is refused, and burnt: a code is only
  // ever tried once.
  const stolen = await startAndBrowse('google');
  const stolenCode = stolen.landed.searchParams.get('code')!;
  expect(reasonOf(await gql(COMPLETE, { c: stolenCode, s: 'x'.repeat(43) }))).toBe('OAUTH_STATE_INVALID');
  expect(reasonOf(await gql(COMPLETE, { c: stolenCode, s: stolen.state }))).toBe('OAUTH_CODE_INVALID');

  const { state, landed } = await startAndBrowse('google');
  const code = landed.searchParams.get('code')!;
  const signedIn = await gql<CompleteData>(COMPLETE, { c: code, s: state });
  expect(signedIn.errors).toBeUndefined();
  const payload = signedIn.data!.completeOAuthLogin;
  if (payload.__typename !== 'AuthPayload') throw new Error('expected tokens');
  expect(payload.user.email).toBe('ada@example.test');
  const linked = await gql<{ myOAuthAccounts: { provider: string; email: string }[] }>(
    `{ myOAuthAccounts { provider email } }`,
    undefined,
    payload.accessToken,
  );
  expect(linked.data!.myOAuthAccounts).toEqual([{ provider: 'google', email: 'ada@example.test' }]);
  // Single use.
  expect(reasonOf(await gql(COMPLETE, { c: code, s: state }))).toMatch(/^OAUTH_(CODE|STATE)_INVALID$/);

  // Signing in again finds the same account, and the provider tokens are stored encrypted.
  const again = await signInWith('google');
  expect(again.data!.completeOAuthLogin).toMatchObject({
    __typename: 'AuthPayload',
    user: { email: 'ada@example.test' },
  });
  const row = await supergraph.db.prisma.oAuthAccount.findFirstOrThrow({
    where: { providerAccountId: 'google-ada' },
  });
  expect(row.accessTokenEncrypted).toBeTruthy();
  expect(await supergraph.db.prisma.user.count({ where: { email: 'ada@example.test' } })).toBe(1);
});

it('REST form through the gateway: the state is bound to the browser cookie and consumed once', async () => {
  github.setNextLogin({
    id: 4242,
    login: 'grace',
    name: 'Grace',
    emails: [{ email: 'grace@example.test', primary: true, verified: true }],
  });
  const start = `${gatewayOrigin}/auth/oauth/github/start?redirect_uri=${encodeURIComponent(APP)}`;
  const toCallback = (browser: Map<string, Map<string, string>>) =>
    followOAuthRedirects(start, {
      cookies: browser,
      until: (url) => url.pathname === '/auth/oauth/github/callback',
    });

  // A callback URL presented by another browser (without the binding cookie) is refused and the flow is over:
  // a state is consumed by its first use, whoever presents it.
  const victim = new Map<string, Map<string, string>>();
  const intercepted = await toCallback(victim);
  const foreign = await fetch(intercepted, { redirect: 'manual' });
  expect(foreign.status).toBe(400);
  expect(await foreign.text()).toContain('OAUTH_STATE_INVALID');
  await expect(
    followOAuthRedirects(intercepted.href, { cookies: victim, until: (url) => url.href.startsWith(APP) }),
  ).rejects.toThrow(/400/);

  const browser = new Map<string, Map<string, string>>();
  const callback = await toCallback(browser);
  const landed = await followOAuthRedirects(callback.href, {
    cookies: browser,
    until: (url) => url.href.startsWith(APP),
  });
  const signedIn = await completeIn(browser, landed);
  expect(signedIn.data!.completeOAuthLogin).toMatchObject({
    __typename: 'AuthPayload',
    user: { email: 'grace@example.test' },
  });

  // The same callback again: the state was consumed.
  const cookie = cookieHeaderOf(browser);
  const replay = await fetch(callback, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  expect(replay.status).toBe(400);
  expect(await replay.text()).toContain('OAUTH_STATE_INVALID');
});

it("issue #14: a REST flow's final redirect forwarded to another browser signs nobody in (login CSRF)", async () => {
  const start = `${gatewayOrigin}/auth/oauth/github/start?redirect_uri=${encodeURIComponent(APP)}`;
  const toApp = (browser: Map<string, Map<string, string>>) =>
    followOAuthRedirects(start, { cookies: browser, until: (url) => url.href.startsWith(APP) });

  // The attacker signs in with their own provider account, stops at the app's redirect and sends it on.
  github.setNextLogin({
    id: 6666,
    login: 'mallory',
    emails: [{ email: 'mallory@example.test', primary: true, verified: true }],
  });
  const attacker = new Map<string, Map<string, string>>();
  const forwarded = await toApp(attacker);
  expect(forwarded.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  // The victim's browser never started a flow: no cookie. Refused, and the code is burnt.
  const victim = new Map<string, Map<string, string>>();
  expect(reasonOf(await completeIn(victim, forwarded))).toBe('OAUTH_STATE_INVALID');
  expect(reasonOf(await completeIn(attacker, forwarded))).toBe('OAUTH_CODE_INVALID');
  // Another browser's cookie does not do either.
  const other = new Map<string, Map<string, string>>();
  await toApp(other);
  const again = await toApp(attacker);
  expect(reasonOf(await completeIn(other, again))).toBe('OAUTH_STATE_INVALID');
});

it('denied consent and provider errors come back to the app as error codes', async () => {
  await google.setNextLogin({ deny: true });
  const denied = await startAndBrowse('google');
  expect(denied.landed.searchParams.get('error')).toBe('OAUTH_CONSENT_DENIED');
  expect(denied.landed.searchParams.get('code')).toBeNull();

  github.setNextLogin({
    id: 77,
    login: 'x',
    emails: [{ email: 'x@example.test', primary: true, verified: true }],
  });
  github.failNext('token', { status: 500, body: { error: 'server_error' } });
  const failed = await startAndBrowse('github');
  expect(failed.landed.searchParams.get('error')).toBe('OAUTH_PROVIDER_ERROR');
});

it('refuses a redirect URI off the allow-list and an unknown provider', async () => {
  expect(reasonOf(await gql(START, { p: 'google', r: 'https://evil.example/steal' }))).toBe(
    'OAUTH_REDIRECT_URI_NOT_ALLOWED',
  );
  expect(reasonOf(await gql(START, { p: 'facebook', r: APP }))).toBe('OAUTH_PROVIDER_UNAVAILABLE');
});

it('a verified provider email links to the verified account with that email; an unverified one never does', async () => {
  github.setNextLogin({
    id: 5150,
    login: 'impostor',
    emails: [{ email: PASSWORD_USER, primary: true, verified: false }],
  });
  const unverified = await startAndBrowse('github');
  expect(unverified.landed.searchParams.get('error')).toBe('OAUTH_EMAIL_IN_USE');

  await google.setNextLogin({ sub: 'google-margaret', email: PASSWORD_USER, email_verified: true });
  const verified = await signInWith('google');
  expect(verified.data!.completeOAuthLogin).toMatchObject({
    __typename: 'AuthPayload',
    user: { email: PASSWORD_USER },
  });
  expect(await supergraph.db.prisma.user.count({ where: { email: PASSWORD_USER } })).toBe(1);
});

it('links and unlinks providers, refusing duplicates and the last way to sign in', async () => {
  const login = await gql<{ login: { accessToken: string } }>(
    `mutation($i: LoginInput!) { login(input: $i) { ... on AuthPayload { accessToken } } }`,
    { i: { email: PASSWORD_USER, password: PASSWORD } },
  );
  const token = login.data!.login.accessToken;
  const COMPLETE_LINK = `mutation($c: String!, $s: String!) { completeOAuthLink(code: $c, state: $s) { provider } }`;
  const linkWith = async (provider: string, as: string) => {
    const started = await gql<{ linkOAuthAccount: { authorizationUrl: string; state: string } }>(
      LINK,
      { p: provider, r: APP },
      as,
    );
    const landed = await browseToApp(started.data!.linkOAuthAccount.authorizationUrl);
    return gql<{ completeOAuthLink: { provider: string } }>(
      COMPLETE_LINK,
      { c: landed.searchParams.get('code'), s: started.data!.linkOAuthAccount.state },
      as,
    );
  };

  github.setNextLogin({
    id: 9001,
    login: 'marg',
    emails: [{ email: 'marg@users.example', primary: true, verified: true }],
  });
  expect((await linkWith('github', token)).data).toEqual({ completeOAuthLink: { provider: 'github' } });
  // Google was linked by the previous test (verified email): linking it again is a duplicate.
  await google.setNextLogin({ sub: 'google-other', email: 'other@example.test', email_verified: true });
  expect(reasonOf(await linkWith('google', token))).toBe('OAUTH_PROVIDER_ALREADY_LINKED');

  // Ada (Google-only, no password) cannot link the GitHub identity Margaret has.
  await google.setNextLogin({ sub: 'google-ada', email: 'ada@example.test', email_verified: true });
  const ada = (await signInWith('google')).data!.completeOAuthLogin;
  if (ada.__typename !== 'AuthPayload') throw new Error('expected tokens');
  github.setNextLogin({
    id: 9001,
    login: 'marg',
    emails: [{ email: 'marg@users.example', primary: true, verified: true }],
  });
  expect(reasonOf(await linkWith('github', ada.accessToken))).toBe('OAUTH_ACCOUNT_LINKED_ELSEWHERE');
  // ...nor unlink Google, her only way to sign in.
  const UNLINK = `mutation($p: String!) { unlinkOAuthAccount(provider: $p) }`;
  expect(reasonOf(await gql(UNLINK, { p: 'google' }, ada.accessToken))).toBe('OAUTH_LAST_SIGN_IN_METHOD');
  // Margaret has a password: unlinking works.
  expect((await gql(UNLINK, { p: 'github' }, token)).data).toEqual({ unlinkOAuthAccount: true });
});

it('a social sign-in of an account with MFA returns a challenge, finished with a TOTP code', async () => {
  await google.setNextLogin({ sub: 'google-alan', email: 'alan@example.test', email_verified: true });
  const first = (await signInWith('google')).data!.completeOAuthLogin;
  if (first.__typename !== 'AuthPayload') throw new Error('expected tokens');
  const enrolled = await gql<{ enrollTotp: { secret: string } }>(
    `mutation { enrollTotp { secret } }`,
    undefined,
    first.accessToken,
  );
  const secret = enrolled.data!.enrollTotp.secret;
  await gql(
    `mutation($c: String!) { confirmTotp(code: $c) { mfaEnabled } }`,
    { c: totp(secret) },
    first.accessToken,
  );

  const second = (await signInWith('google')).data!.completeOAuthLogin;
  expect(second.__typename).toBe('MfaChallenge');
  if (second.__typename !== 'MfaChallenge') return;
  const verified = await gql<{ verifyMfa: { user: { email: string } } }>(
    `mutation($t: String!, $c: String!) { verifyMfa(mfaToken: $t, code: $c) { user { email } } }`,
    { t: second.mfaToken, c: totp(secret, { time: Date.now() / 1000 + 30 }) },
  );
  expect(verified.data).toEqual({ verifyMfa: { user: { email: 'alan@example.test' } } });
});

describe('issue #14: provider links made before the address was verified', () => {
  const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { accepted } }`;
  const VERIFY = `mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }`;
  const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { __typename } }`;
  /** The token of the newest verification mail to `email`, once there are `count` of them. */
  async function newestLink(email: string, count: number): Promise<string> {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const mails = smtp.messages.filter((m) => m.to.includes(email) && /verify/i.test(m.subject));
      const match = /verify-email\?token=([A-Za-z0-9_%-]+)/.exec(mails[count - 1]?.text ?? '');
      if (mails.length >= count && match?.[1]) return decodeURIComponent(match[1]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`fewer than ${count} verification mails to ${email}`);
  }
  const unverifiedGitHub = (id: number, email: string) =>
    github.setNextLogin({ id, login: `gh-${id}`, emails: [{ email, primary: true, verified: false }] });

  it('a provider sign-up with an unproved address keeps its link when its own link is clicked', async () => {
    const email = 'hopper@example.test';
    unverifiedGitHub(7002, email);
    expect((await startAndBrowse('github')).landed.searchParams.get('error')).toBe('ACCOUNT_NOT_VERIFIED');
    expect((await gql(VERIFY, { t: await newestLink(email, 1) })).errors).toBeUndefined();
    unverifiedGitHub(7002, email);
    expect((await signInWith('github')).data?.completeOAuthLogin).toMatchObject({ user: { email } });
  });

  it("someone else's provider sign-up does not survive the owner verifying after registering", async () => {
    const email = 'turing@example.test';
    // The attacker's provider account claims the victim's address (unverified): an unverified account, linked.
    unverifiedGitHub(7001, email);
    expect((await startAndBrowse('github')).landed.searchParams.get('error')).toBe('ACCOUNT_NOT_VERIFIED');
    // The owner registers, gets a link (the repeat's) and clicks it.
    expect((await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Alan' } })).data).toEqual({
      register: { accepted: true },
    });
    expect((await gql(VERIFY, { t: await newestLink(email, 2) })).data).toEqual({
      verifyEmail: { emailVerified: true },
    });
    const user = await supergraph.db.prisma.user.findUniqueOrThrow({ where: { email } });
    expect(await supergraph.db.prisma.oAuthAccount.count({ where: { userId: user.id } })).toBe(0);
    unverifiedGitHub(7001, email);
    expect((await startAndBrowse('github')).landed.searchParams.get('error')).toBe('OAUTH_EMAIL_IN_USE');
    // The first registration won: the repeat's password was not set either (the owner resets it).
    expect(reasonOf(await gql(LOGIN, { input: { email, password: PASSWORD } }))).toBe('INVALID_CREDENTIALS');
  });
});
