// Issue #3, "Durability": Redis is the fast path, Postgres the record. Session state, refresh-token families and
// lockout counters survive a Redis flush: nobody is logged out, no revoked token works again, and no attacker
// gets fresh login attempts. Also "Register ... CAPTCHA" against a local fake siteverify endpoint.
// Driven through the gateway over HTTP against real PostgreSQL, Redis (REDIS_URL) and SMTP. A flush is simulated
// by deleting every key under this supergraph's prefix (never FLUSHALL: other test files share the server).
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postGraphQL } from '@gatehouse/service/testing';
import { deleteRedisKeys, startTestSmtpServer, waitFor, type TestSmtpServer } from '@gatehouse/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const PASSWORD = 'correct horse battery staple 42';

const REGISTER = `mutation($input: RegisterInput!) {
  register(input: $input) { accepted fieldErrors { field code message } } }`;
const VERIFY = `mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) {
  __typename ... on AuthPayload { accessToken refreshToken user { id email } } } }`;
const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { id } } }`;
const ME = `{ me { email } }`;

interface Tokens {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string };
}

function client(supergraph: () => Supergraph) {
  return <T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string) =>
    postGraphQL<T>(supergraph().graphqlUrl, query, {
      ...(variables ? { variables } : {}),
      ...(token ? { token } : {}),
    });
}

/** The sid claim of an access token. */
function sessionIdOf(accessToken: string): string {
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as {
    sid?: unknown;
  };
  if (typeof claims.sid !== 'string') throw new Error('access token without sid');
  return claims.sid;
}

/** How refresh tokens are keyed in the store (sha256 hex of the token, as `hashToken`). */
const refreshCacheKey = (token: string) => `refresh:${createHash('sha256').update(token).digest('hex')}`;

describe('durability: state lives in Postgres, Redis only caches it', () => {
  let smtp: TestSmtpServer;
  let supergraph: Supergraph;
  const gql = client(() => supergraph);

  beforeAll(async () => {
    smtp = await startTestSmtpServer();
    supergraph = await startSupergraph({
      identityEnv: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://id.example.test' },
    });
    // Without Redis the "flush" below would delete nothing and every test would pass vacuously.
    if (!supergraph.redis) throw new Error('REDIS_URL must be set: these tests flush a real Redis');
  });

  afterAll(async () => {
    await supergraph?.close();
    await smtp?.close();
  });

  /** Everything this supergraph keeps in Redis is gone: caches, counters, markers, queued-job bookkeeping. */
  async function flushRedis(): Promise<void> {
    const { url, prefix } = supergraph.redis!;
    await deleteRedisKeys(url, prefix);
  }

  async function registerAndVerify(email: string): Promise<void> {
    const registered = await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Ada Lovelace' } });
    expect(registered.body.data).toEqual({ register: { accepted: true, fieldErrors: [] } });
    const mail = await smtp.waitForMail((m) => m.to.includes(email) && /verify/i.test(m.subject));
    const link = /https:\/\/id\.example\.test\/verify-email\?token=([A-Za-z0-9_%-]+)/.exec(mail.text);
    if (!link?.[1]) throw new Error(`no verification link in: ${mail.text}`);
    const verified = await gql(VERIFY, { t: decodeURIComponent(link[1]) });
    expect(verified.body.data).toEqual({ verifyEmail: { emailVerified: true } });
  }

  async function login(email: string, password = PASSWORD) {
    return gql<{ login: Tokens }>(LOGIN, { input: { email, password } });
  }

  async function signIn(email: string): Promise<Tokens> {
    const result = await login(email);
    expect(result.body.errors).toBeUndefined();
    return result.body.data!.login;
  }

  it('keeps a signed-in user signed in: after a flush `me` still answers and the refresh token still rotates', async () => {
    const email = 'durable-ada@example.test';
    await registerAndVerify(email);
    const session = await signIn(email);
    expect((await gql(ME, undefined, session.accessToken)).body.data).toEqual({ me: { email } });
    // Precondition: the session's state really is cached in Redis, so the flush below removes something.
    expect(await supergraph.kv.get(`session-status:${sessionIdOf(session.accessToken)}`)).toBe('1');
    expect(await supergraph.kv.get(refreshCacheKey(session.refreshToken))).not.toBeNull();

    await flushRedis();
    expect(await supergraph.kv.get(refreshCacheKey(session.refreshToken))).toBeNull();

    const me = await gql(ME, undefined, session.accessToken);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ data: { me: { email } } });

    const refreshed = await gql<{ refreshToken: Tokens }>(REFRESH, { t: session.refreshToken });
    expect(refreshed.body.errors).toBeUndefined();
    const next = refreshed.body.data!.refreshToken;
    expect(next.user.id).toBe(session.user.id);
    expect(next.refreshToken).not.toBe(session.refreshToken);
    expect(sessionIdOf(next.accessToken)).toBe(sessionIdOf(session.accessToken));
    expect((await gql(ME, undefined, next.accessToken)).body.data).toEqual({ me: { email } });
  });

  it('keeps revoked sessions revoked: after a flush their access and refresh tokens are still refused', async () => {
    const email = 'durable-grace@example.test';
    await registerAndVerify(email);
    const kept = await signIn(email);
    const revokedBySession = await signIn(email);
    const loggedOut = await signIn(email);

    const revoke = await gql(
      `mutation($id: ID!) { revokeSession(id: $id) }`,
      { id: sessionIdOf(revokedBySession.accessToken) },
      kept.accessToken,
    );
    expect(revoke.body.data).toEqual({ revokeSession: true });
    const logout = await gql(`mutation($t: String) { logout(refreshToken: $t) }`, {
      t: loggedOut.refreshToken,
    });
    expect(logout.body.data).toEqual({ logout: true });
    // Precondition: the revocations are in Redis now (the gateway-side fast path) and the flush removes them.
    for (const ended of [revokedBySession, loggedOut]) {
      expect(await supergraph.kv.get(`session-status:${sessionIdOf(ended.accessToken)}`)).toBe('0');
    }

    await flushRedis();
    expect(await supergraph.kv.get(`session-status:${sessionIdOf(loggedOut.accessToken)}`)).toBeNull();

    for (const ended of [revokedBySession, loggedOut]) {
      const me = await gql<{ me: unknown }>(ME, undefined, ended.accessToken);
      expect(me.status).toBe(401);
      expect(me.body.data?.me ?? null).toBeNull();
      expect(me.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const refresh = await gql(REFRESH, { t: ended.refreshToken });
      expect(refresh.body.data ?? null).toBeNull();
      expect(refresh.body.errors?.[0]?.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        details: { reason: 'SESSION_REVOKED' },
      });
    }
    // And the session that was never revoked is untouched.
    expect((await gql(ME, undefined, kept.accessToken)).body.data).toEqual({ me: { email } });
  });

  it('still detects refresh-token reuse after a flush and revokes the whole family', async () => {
    const email = 'durable-linus@example.test';
    await registerAndVerify(email);
    const first = await signIn(email);
    const rotated = await gql<{ refreshToken: Tokens }>(REFRESH, { t: first.refreshToken });
    expect(rotated.body.errors).toBeUndefined();
    const second = rotated.body.data!.refreshToken;

    await flushRedis();

    const replay = await gql(REFRESH, { t: first.refreshToken });
    expect(replay.body.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'REFRESH_TOKEN_REUSED' },
    });
    // The family is over: its newest refresh token and its access tokens stop working.
    const successor = await gql(REFRESH, { t: second.refreshToken });
    expect(successor.body.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'SESSION_REVOKED' },
    });
    expect((await gql(ME, undefined, second.accessToken)).status).toBe(401);
    const sessionId = sessionIdOf(second.accessToken);
    await waitFor(
      () =>
        supergraph.db.prisma.auditLog.findFirst({
          where: { action: 'REFRESH_TOKEN_REUSED', targetId: sessionId },
        }),
      { what: 'the REFRESH_TOKEN_REUSED audit row' },
    );
  });

  it('gives no fresh attempts after a flush: 3 failures + flush + 2 failures lock the account, mailed once', async () => {
    const email = 'durable-edsger@example.test';
    await registerAndVerify(email);
    const userId = (await supergraph.db.prisma.user.findUniqueOrThrow({ where: { email } })).id;
    const failOnce = async (i: number) => {
      const failed = await login(email, `wrong password number ${i}`);
      expect(failed.body.errors?.[0]?.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        details: { reason: 'INVALID_CREDENTIALS' },
      });
    };

    for (let i = 1; i <= 3; i += 1) await failOnce(i);
    // Precondition: the counter lives in Redis too, and the flush throws it away.
    expect(await supergraph.kv.get(`login-failures:${userId}`)).toBe('3');
    await flushRedis();
    expect(await supergraph.kv.get(`login-failures:${userId}`)).toBeNull();

    for (let i = 4; i <= 5; i += 1) await failOnce(i);
    await smtp.waitForMail((m) => m.to.includes(email) && /lock/i.test(m.subject + m.text));

    // Locked: the right password gets the same generic answer, also after yet another flush.
    const refused = await login(email);
    expect(refused.body.data ?? null).toBeNull();
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'INVALID_CREDENTIALS' },
    });
    await flushRedis();
    const stillRefused = await login(email);
    expect(stillRefused.body.errors?.[0]?.extensions?.details).toEqual({ reason: 'INVALID_CREDENTIALS' });

    const { lockedUntil } = await supergraph.db.prisma.user.findUniqueOrThrow({ where: { id: userId } });
    expect(lockedUntil!.getTime()).toBeGreaterThan(Date.now());
    // Exactly one lock notice: the attempts made while locked neither count nor mail again.
    expect(
      await supergraph.db.prisma.emailDelivery.count({ where: { userId, template: 'account-locked' } }),
    ).toBe(1);
    expect(
      smtp.messages.filter((m) => m.to.includes(email) && /lock/i.test(m.subject + m.text)),
    ).toHaveLength(1);
  });
});

/** A local hCaptcha: POST form secret/response/remoteip, answers `{"success": ...}` as siteverify does. */
interface FakeSiteverify {
  url: string;
  requests: URLSearchParams[];
  close(): Promise<void>;
}

const CAPTCHA_SECRET = '0x0000000000000000000000000000000000000000';
const GOOD_CAPTCHA = 'P1_solved-by-a-human';

async function startFakeSiteverify(): Promise<FakeSiteverify> {
  const requests: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      requests.push(form);
      const success =
        req.method === 'POST' &&
        req.headers['content-type'] === 'application/x-www-form-urlencoded' &&
        form.get('secret') === CAPTCHA_SECRET &&
        form.get('response') === GOOD_CAPTCHA;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(success ? { success } : { success, 'error-codes': ['invalid-input-response'] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/siteverify`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Pooled keep-alive sockets would otherwise keep the "down" endpoint reachable.
        server.closeAllConnections();
      }),
  };
}

describe('register with CAPTCHA (hCaptcha protocol, local fake siteverify)', () => {
  let siteverify: FakeSiteverify;
  let siteverifyDown = false;
  let supergraph: Supergraph;
  const gql = client(() => supergraph);

  beforeAll(async () => {
    siteverify = await startFakeSiteverify();
    supergraph = await startSupergraph({
      identityEnv: {
        CAPTCHA_PROVIDER: 'hcaptcha',
        CAPTCHA_SECRET,
        CAPTCHA_VERIFY_URL: siteverify.url,
      },
    });
  });

  afterAll(async () => {
    await supergraph?.close();
    if (!siteverifyDown) await siteverify?.close();
  });

  const register = (email: string, captchaToken?: string) =>
    gql<{ register: { accepted: boolean } }>(REGISTER, {
      input: { email, password: PASSWORD, name: 'Hedy Lamarr', ...(captchaToken ? { captchaToken } : {}) },
    });
  const usersWith = (email: string) => supergraph.db.prisma.user.count({ where: { email } });

  it('refuses a token the provider rejects, and a missing token, creating no user', async () => {
    const email = 'bot@example.test';
    const before = siteverify.requests.length;
    const rejected = await register(email, 'forged-token');
    expect(rejected.body.data ?? null).toBeNull();
    expect(rejected.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { reason: 'CAPTCHA_INVALID' },
    });
    // The provider was really asked, with the secret, the token and the client's address.
    const asked = siteverify.requests.slice(before);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.get('secret')).toBe(CAPTCHA_SECRET);
    expect(asked[0]!.get('response')).toBe('forged-token');
    expect(asked[0]!.get('remoteip')).toBe('127.0.0.1');

    const missing = await register(email);
    expect(missing.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { reason: 'CAPTCHA_INVALID' },
    });
    expect(await usersWith(email)).toBe(0);
  });

  it('registers when the provider accepts the token', async () => {
    const email = 'human@example.test';
    const accepted = await register(email, GOOD_CAPTCHA);
    expect(accepted.body.errors).toBeUndefined();
    expect(accepted.body.data).toEqual({ register: { accepted: true, fieldErrors: [] } });
    expect(await usersWith(email)).toBe(1);
  });

  it('fails closed with SERVICE_UNAVAILABLE (CAPTCHA_UNAVAILABLE) when the provider is down', async () => {
    await siteverify.close();
    siteverifyDown = true;
    const email = 'while-down@example.test';
    const result = await register(email, GOOD_CAPTCHA);
    expect(result.body.data ?? null).toBeNull();
    expect(result.body.errors?.[0]?.extensions).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      details: { reason: 'CAPTCHA_UNAVAILABLE' },
    });
    expect(await usersWith(email)).toBe(0);
  });
});
