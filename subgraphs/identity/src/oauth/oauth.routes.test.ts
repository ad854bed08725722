import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { startHttpService, type HttpService, type RouteHandler } from '@gatehouse/service';
import {
  createTestDatabase,
  followOAuthRedirects,
  startFakeGitHub,
  type CookieJar,
  type FakeGitHub,
  type TestDatabase,
} from '@gatehouse/testing';
import { APP_REDIRECT, createHarness, type Harness } from './oauth-harness.test-support';
import { createOAuthRoutes } from './oauth.routes';

// The REST form over real HTTP: identity's HTTP server with these routes, a browser with a cookie jar, and the
// local GitHub.
const logger = createLogger({ name: 'oauth-routes-test', level: 'silent' });
let db: TestDatabase;
let server: HttpService;
let github: FakeGitHub;
let h: Harness;
const kv = new MemoryKeyValueStore();
let routes: RouteHandler = async () => false;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startHttpService({
    name: 'identity-oauth-test',
    host: '127.0.0.1',
    port: 0,
    logger,
    readinessChecks: {},
    routes: (req, res, requestId) => routes(req, res, requestId),
  });
  github = await startFakeGitHub({
    clientId: 'gh-client',
    clientSecret: 'gh-secret',
    redirectUris: [`${server.url}/auth/oauth/github/callback`],
  });
  h = createHarness(db, kv, {
    OAUTH_CALLBACK_BASE_URL: server.url,
    GITHUB_CLIENT_ID: 'gh-client',
    GITHUB_CLIENT_SECRET: 'gh-secret',
    GITHUB_AUTHORIZE_URL: github.authorizeUrl,
    GITHUB_TOKEN_URL: github.tokenUrl,
    GITHUB_API_URL: github.apiUrl,
  });
  routes = createOAuthRoutes(h.service, { logger });
  github.setNextLogin({
    id: 77,
    login: 'rest-user',
    emails: [{ email: 'rest-user@example.test', primary: true, verified: true }],
  });
});

afterAll(async () => {
  await Promise.all([server?.stop(), github?.close(), kv.close()]);
  await db?.close();
});

const startUrl = (provider = 'github', redirectUri = APP_REDIRECT) =>
  `${server.url}/auth/oauth/${provider}/start?redirect_uri=${encodeURIComponent(redirectUri)}`;

describe('OAuth REST routes', () => {
  it('start sets the binding cookie and redirects to the provider; the callback redirects to the app', async () => {
    const start = await fetch(startUrl(), { redirect: 'manual' });
    expect(start.status).toBe(302);
    expect(start.headers.get('location')).toMatch(new RegExp(`^${github.authorizeUrl}\\?`));
    expect(start.headers.get('cache-control')).toBe('no-store');
    expect(start.headers.getSetCookie()).toEqual([
      expect.stringMatching(
        /^gatehouse_oauth=[A-Za-z0-9_-]{43}; Path=\/auth\/oauth; Max-Age=600; HttpOnly; SameSite=Lax$/,
      ),
    ]);

    const cookies: CookieJar = new Map();
    const landing = await followOAuthRedirects(startUrl(), {
      until: (url) => url.toString().startsWith(APP_REDIRECT),
      cookies,
      headers: { 'x-forwarded-for': '198.51.100.23', 'user-agent': 'RestBrowser/1.0' },
    });
    const code = landing.searchParams.get('code');
    const state = landing.searchParams.get('state');
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The callback cleared the cookie, and handed the binding on to the completion (GraphQL) only.
    expect(cookies.get(server.url)?.has('gatehouse_oauth')).toBe(false);
    const completion = cookies.get(server.url)?.get('gatehouse_oauth_result');
    expect(completion).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await h.service.completeSignIn(code!, state!, undefined, completion)).toMatchObject({
      provider: 'github',
      isNewUser: true,
    });
    const audited = await db.prisma.auditLog.findFirstOrThrow({ where: { action: 'OAUTH_LOGIN_SUCCEEDED' } });
    // A caller without the gateway's SUBGRAPH_SECRET is identified by its socket: its X-Forwarded-For is not
    // believed (issue #14; the gateway's own forwarding is covered by gateway/src/rest-proxy.e2e.test.ts).
    expect(audited).toMatchObject({ ipAddress: '127.0.0.1', userAgent: 'RestBrowser/1.0' });
  });

  it('issue #14: the final redirect completes only with the completion cookie of the browser that started', async () => {
    const landing = await followOAuthRedirects(startUrl(), {
      until: (url) => url.toString().startsWith(APP_REDIRECT),
      cookies: new Map(),
    });
    const code = landing.searchParams.get('code')!;
    const state = landing.searchParams.get('state')!;
    // Forwarded to a browser that never started it (no cookie): refused, and the code is burnt.
    await expect(h.service.completeSignIn(code, state)).rejects.toMatchObject({
      details: { reason: 'OAUTH_STATE_INVALID' },
    });
    await expect(h.service.completeSignIn(code, state, undefined, 'x'.repeat(43))).rejects.toMatchObject({
      details: { reason: 'OAUTH_CODE_INVALID' },
    });
  });

  it('answers 400 OAUTH_STATE_INVALID when another browser brings the callback', async () => {
    const callbackUrl = await followOAuthRedirects(startUrl(), {
      until: (url) => url.pathname === '/auth/oauth/github/callback',
    });
    // A different browser (no binding cookie) opens the callback link.
    const response = await fetch(callbackUrl, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await response.json()).toMatchObject({ error: 'OAUTH_STATE_INVALID' });
    expect(response.headers.getSetCookie()).toEqual([
      expect.stringMatching(/^gatehouse_oauth=; .*Max-Age=0/),
    ]);
  });

  it('refuses unknown providers and redirect URIs off the allow-list with 400 JSON', async () => {
    for (const [url, reason] of [
      [startUrl('gitlab'), 'OAUTH_PROVIDER_UNAVAILABLE'],
      [startUrl('github', 'https://evil.test/steal'), 'OAUTH_REDIRECT_URI_NOT_ALLOWED'],
      [`${server.url}/auth/oauth/github/start`, 'OAUTH_REDIRECT_URI_NOT_ALLOWED'],
    ] as const) {
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: reason });
      expect(response.headers.getSetCookie()).toEqual([]);
    }
  });

  it('allows only GET on its paths and leaves other paths to the server', async () => {
    const post = await fetch(startUrl(), { method: 'POST', redirect: 'manual' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect((await fetch(`${server.url}/auth/oauth/github/elsewhere`)).status).toBe(404);
    expect((await fetch(`${server.url}/auth/oauth/GitHub/start`)).status).toBe(404);
  });
});
