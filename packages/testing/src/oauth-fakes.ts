/*
 * Long on purpose (~570 lines): GitHub's and Facebook's fakes share one authorize/token/profile skeleton and
 * differ only in their error formats; kept together so the two stay comparable.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Local stand-ins for GitHub's and Facebook's OAuth 2.0 (not OpenID Connect) sign-in: the authorize page, the
 * token endpoint and the profile API, on 127.0.0.1. They are as strict as the real services about client
 * credentials, redirect URIs, single-use codes and PKCE, answer errors in each provider's own format (GitHub:
 * HTTP 200 with an `error` field; Facebook: HTTP 400 with an `OAuthException`), and have knobs for consent denial
 * and failing endpoints. The "user" at the authorize page is whoever `setNextLogin` names.
 */

/** A canned HTTP answer for {@link FakeOAuthServer.failNext}. */
export interface FakeHttpResponse {
  status: number;
  body: unknown;
}

/** A request a fake received, for assertions (what was sent where). */
export interface FakeRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Form or JSON body fields. */
  body: Record<string, string>;
  headers: IncomingMessage['headers'];
}

/** What both fakes offer. */
export interface FakeOAuthServer<Endpoint extends string, Login> {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /**
   * What the provider's user does at the authorize page from now on (until called again): approve as `login`,
   * or `{ deny: true }` to cancel. Until the first call every authorization is denied.
   */
  setNextLogin(login: Login | { deny: true }): void;
  /** The next request to `endpoint` gets `response` instead of being served. */
  failNext(endpoint: Endpoint, response: FakeHttpResponse): void;
  /** Every request received, oldest first. */
  requests: FakeRequestRecord[];
  close(): Promise<void>;
}

interface IssuedCode {
  login: unknown;
  redirectUri: string;
  scope: string[];
  codeChallenge: string | null;
  expiresAt: number;
}

const CODE_TTL_MS = 10 * 60_000;

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': `${contentType}; charset=utf-8`, 'cache-control': 'no-store' });
  res.end(payload);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store' });
  res.end();
}

async function readFields(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw) return {};
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

/** `Authorization: Basic` client credentials (RFC 6749 §2.3.1: each part form-urlencoded). */
function basicCredentials(req: IncomingMessage): { id: string; secret: string } | null {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return {
    id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
    secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
  };
}

function bearer(req: IncomingMessage, query: Record<string, string>, schemes: string[]): string | null {
  const header = req.headers.authorization ?? '';
  for (const scheme of schemes) {
    if (header.toLowerCase().startsWith(`${scheme.toLowerCase()} `)) return header.slice(scheme.length + 1);
  }
  return query.access_token ?? null;
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** Serves `route` (true: it answered) on a free 127.0.0.1 port; shared plumbing of both fakes. */
async function startFake<Endpoint extends string, Login>(
  route: (req: IncomingMessage, res: ServerResponse, record: FakeRequestRecord) => Promise<boolean>,
): Promise<{
  server: FakeOAuthServer<Endpoint, Login>;
  login(): Login | { deny: true };
  failure(endpoint: Endpoint): FakeHttpResponse | undefined;
}> {
  let login: Login | { deny: true } = { deny: true };
  const failures = new Map<Endpoint, FakeHttpResponse>();
  const requests: FakeRequestRecord[] = [];
  const httpServer = createServer((req, res) => {
    void (async () => {
      const parsed = new URL(req.url ?? '/', 'http://fake');
      const record: FakeRequestRecord = {
        method: req.method ?? 'GET',
        path: parsed.pathname,
        query: Object.fromEntries(parsed.searchParams),
        body: req.method === 'POST' ? await readFields(req) : {},
        headers: req.headers,
      };
      requests.push(record);
      if (!(await route(req, res, record)) && !res.headersSent) send(res, 404, { message: 'Not Found' });
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { message: String(error) });
      else res.end();
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  return {
    server: {
      url,
      requests,
      setNextLogin: (next) => {
        login = next;
      },
      failNext: (endpoint, response) => {
        failures.set(endpoint, response);
      },
      close: () =>
        (closed ??= new Promise<void>((resolve) => {
          httpServer.close(() => resolve());
          httpServer.closeAllConnections();
        })),
    },
    login: () => login,
    failure(endpoint) {
      const response = failures.get(endpoint);
      failures.delete(endpoint);
      return response;
    },
  };
}

/** Registration of the OAuth app at the fake (what the provider's developer settings hold). */
export interface FakeOAuthAppOptions {
  clientId: string;
  clientSecret: string;
  /** The registered callback URL(s); authorization requests must use one of them exactly. */
  redirectUris: string[];
}

/** A GitHub user as the fake's `/user` and `/user/emails` return them. */
export interface FakeGitHubUser {
  id: number;
  login: string;
  name?: string | null;
  /** The public profile email (often null on real accounts). */
  email?: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

export type FakeGitHubEndpoint = 'token' | 'user' | 'emails';

/** {@link startFakeGitHub}'s server, plus the URLs to configure (GITHUB_AUTHORIZE_URL and friends). */
export interface FakeGitHub extends FakeOAuthServer<FakeGitHubEndpoint, FakeGitHubUser> {
  authorizeUrl: string;
  tokenUrl: string;
  apiUrl: string;
}

/**
 * GitHub's OAuth app flow: `GET /login/oauth/authorize` (approves for the next login, or redirects with
 * `error=access_denied`), `POST /login/oauth/access_token` (client credentials in the body or Basic; PKCE S256
 * checked when the authorization had a challenge; errors as HTTP 200 with `error`, as GitHub does; JSON when the
 * client accepts it, else form-encoded), `GET /user` and `GET /user/emails` (Bearer or `token` scheme, a
 * User-Agent header required, `/user/emails` only with the `user:email` or `user` scope).
 */
export async function startFakeGitHub(app: FakeOAuthAppOptions): Promise<FakeGitHub> {
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, { login: FakeGitHubUser; scope: string[] }>();
  const fake = await startFake<FakeGitHubEndpoint, FakeGitHubUser>(async (req, res, record) => {
    const { path, query } = record;
    if (req.method === 'GET' && path === '/login/oauth/authorize') {
      if (query.client_id !== app.clientId) {
        send(res, 404, '<h1>Not found</h1>', 'text/html');
        return true;
      }
      const redirectUri = query.redirect_uri ?? app.redirectUris[0] ?? '';
      if (!app.redirectUris.includes(redirectUri)) {
        send(res, 400, '<h1>The redirect_uri is not associated with this application.</h1>', 'text/html');
        return true;
      }
      const back = new URL(redirectUri);
      if (query.state !== undefined) back.searchParams.set('state', query.state);
      const login = fake.login();
      if ('deny' in login) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user has denied your application access.');
        back.searchParams.set('error_uri', 'https://docs.github.com/apps/troubleshooting-oauth-apps');
        redirect(res, back.toString());
        return true;
      }
      if (query.code_challenge !== undefined && query.code_challenge_method !== 'S256') {
        send(res, 400, '<h1>Unsupported code_challenge_method</h1>', 'text/html');
        return true;
      }
      const code = randomBytes(10).toString('hex');
      codes.set(code, {
        login,
        redirectUri,
        scope: (query.scope ?? '').split(/[\s,]+/).filter(Boolean),
        codeChallenge: query.code_challenge ?? null,
        expiresAt: Date.now() + CODE_TTL_MS,
      });
      back.searchParams.set('code', code);
      redirect(res, back.toString());
      return true;
    }

    if (req.method === 'POST' && path === '/login/oauth/access_token') {
      const failure = fake.failure('token');
      if (failure) {
        send(res, failure.status, failure.body);
        return true;
      }
      const fields = record.body;
      const basic = basicCredentials(req);
      const clientId = basic?.id ?? fields.client_id;
      const clientSecret = basic?.secret ?? fields.client_secret;
      const wantsJson = (req.headers.accept ?? '').includes('application/json');
      const answer = (body: Record<string, string>) =>
        wantsJson
          ? send(res, 200, body)
          : send(res, 200, new URLSearchParams(body).toString(), 'application/x-www-form-urlencoded');
      const error = (code: string, description: string) =>
        answer({
          error: code,
          error_description: description,
          error_uri: 'https://docs.github.com/apps/troubleshooting-oauth-apps',
        });
      if (clientId !== app.clientId || clientSecret !== app.clientSecret) {
        error('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
        return true;
      }
      const issued = fields.code === undefined ? undefined : codes.get(fields.code);
      if (fields.code !== undefined) codes.delete(fields.code);
      if (!issued || issued.expiresAt < Date.now()) {
        error('bad_verification_code', 'The code passed is incorrect or expired.');
        return true;
      }
      if (fields.redirect_uri !== undefined && fields.redirect_uri !== issued.redirectUri) {
        error('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL.');
        return true;
      }
      if (issued.codeChallenge !== null) {
        if (!fields.code_verifier || s256(fields.code_verifier) !== issued.codeChallenge) {
          error('bad_verification_code', 'The code_verifier does not match the code_challenge.');
          return true;
        }
      }
      const accessToken = `gho_${randomBytes(18).toString('hex')}`;
      tokens.set(accessToken, { login: issued.login as FakeGitHubUser, scope: issued.scope });
      answer({ access_token: accessToken, token_type: 'bearer', scope: issued.scope.join(',') });
      return true;
    }

    if (req.method === 'GET' && (path === '/user' || path === '/user/emails')) {
      const endpoint: FakeGitHubEndpoint = path === '/user' ? 'user' : 'emails';
      const failure = fake.failure(endpoint);
      if (failure) {
        send(res, failure.status, failure.body);
        return true;
      }
      if (!req.headers['user-agent']) {
        send(res, 403, {
          message:
            'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.',
        });
        return true;
      }
      const token = bearer(req, {}, ['Bearer', 'token']);
      const grant = token === null ? undefined : tokens.get(token);
      if (!grant) {
        send(res, 401, {
          message: 'Bad credentials',
          documentation_url: 'https://docs.github.com/rest',
          status: '401',
        });
        return true;
      }
      const user = grant.login;
      if (endpoint === 'user') {
        send(res, 200, {
          login: user.login,
          id: user.id,
          node_id: `U_${user.id}`,
          type: 'User',
          name: user.name ?? null,
          email: user.email ?? null,
          avatar_url: `https://avatars.example.test/u/${user.id}`,
        });
        return true;
      }
      if (!grant.scope.includes('user:email') && !grant.scope.includes('user')) {
        send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
        return true;
      }
      send(
        res,
        200,
        user.emails.map((entry) => ({ ...entry, visibility: entry.primary ? 'private' : null })),
      );
      return true;
    }
    return false;
  });
  const { url } = fake.server;
  return {
    ...fake.server,
    authorizeUrl: `${url}/login/oauth/authorize`,
    tokenUrl: `${url}/login/oauth/access_token`,
    apiUrl: url,
  };
}

/** A Facebook user as the fake's Graph API `/me` returns it. */
export interface FakeFacebookUser {
  id: string;
  name?: string;
  /** Facebook returns the address without any verified flag; absent for phone-only accounts. */
  email?: string;
}

export type FakeFacebookEndpoint = 'token' | 'me';

/** The Graph API version the fake serves, as in the real URLs. */
export const FAKE_FACEBOOK_GRAPH_VERSION = 'v19.0';

/** {@link startFakeFacebook}'s server, plus the URLs to configure (FACEBOOK_AUTHORIZE_URL and friends). */
export interface FakeFacebook extends FakeOAuthServer<FakeFacebookEndpoint, FakeFacebookUser> {
  authorizeUrl: string;
  tokenUrl: string;
  graphUrl: string;
}

function graphError(res: ServerResponse, code: number, message: string, subcode?: number): void {
  send(res, 400, {
    error: {
      message,
      type: 'OAuthException',
      code,
      ...(subcode === undefined ? {} : { error_subcode: subcode }),
      fbtrace_id: randomBytes(8).toString('base64url'),
    },
  });
}

/**
 * Facebook Login's manual flow: `GET /v19.0/dialog/oauth` (approves for the next login, or redirects with
 * `error=access_denied&error_reason=user_denied`), `GET|POST /v19.0/oauth/access_token` (client id and secret as
 * parameters; the redirect_uri must be identical to the dialog's; PKCE checked when the dialog had a challenge;
 * errors as HTTP 400 OAuthException), and `GET /v19.0/me?fields=...` (token as Bearer or `access_token`;
 * `appsecret_proof`, when sent, must be HMAC-SHA256(token, app secret); only the requested fields; `email` only
 * with the `email` permission).
 */
export async function startFakeFacebook(
  app: FakeOAuthAppOptions & { requireAppSecretProof?: boolean },
): Promise<FakeFacebook> {
  const prefix = `/${FAKE_FACEBOOK_GRAPH_VERSION}`;
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, { login: FakeFacebookUser; scope: string[] }>();
  const fake = await startFake<FakeFacebookEndpoint, FakeFacebookUser>(async (req, res, record) => {
    const { path, query } = record;
    if (req.method === 'GET' && path === `${prefix}/dialog/oauth`) {
      if (query.client_id !== app.clientId) {
        send(res, 400, '<h1>Invalid App ID</h1>', 'text/html');
        return true;
      }
      if (query.redirect_uri === undefined || !app.redirectUris.includes(query.redirect_uri)) {
        send(
          res,
          400,
          '<h1>URL blocked: this redirect failed because the redirect URI is not whitelisted</h1>',
          'text/html',
        );
        return true;
      }
      const back = new URL(query.redirect_uri);
      const login = fake.login();
      if ('deny' in login) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_code', '200');
        back.searchParams.set('error_description', 'Permissions error');
        back.searchParams.set('error_reason', 'user_denied');
      } else {
        const code = randomBytes(24).toString('base64url');
        codes.set(code, {
          login,
          redirectUri: query.redirect_uri,
          scope: (query.scope ?? '').split(/[\s,]+/).filter(Boolean),
          codeChallenge: query.code_challenge ?? null,
          expiresAt: Date.now() + CODE_TTL_MS,
        });
        back.searchParams.set('code', code);
      }
      if (query.state !== undefined) back.searchParams.set('state', query.state);
      redirect(res, back.toString());
      return true;
    }

    if ((req.method === 'GET' || req.method === 'POST') && path === `${prefix}/oauth/access_token`) {
      const failure = fake.failure('token');
      if (failure) {
        send(res, failure.status, failure.body);
        return true;
      }
      const fields = { ...query, ...record.body };
      if (fields.client_id !== app.clientId || fields.client_secret !== app.clientSecret) {
        graphError(res, 1, 'Error validating client secret.');
        return true;
      }
      const issued = fields.code === undefined ? undefined : codes.get(fields.code);
      if (!issued || issued.expiresAt < Date.now()) {
        graphError(res, 100, 'This authorization code has been used.', 36009);
        return true;
      }
      codes.delete(fields.code as string);
      if (fields.redirect_uri !== issued.redirectUri) {
        graphError(
          res,
          100,
          'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
          36008,
        );
        return true;
      }
      if (issued.codeChallenge !== null) {
        if (!fields.code_verifier || s256(fields.code_verifier) !== issued.codeChallenge) {
          graphError(res, 100, 'Invalid code verifier.', 36007);
          return true;
        }
      }
      const accessToken = `EAA${randomBytes(24).toString('hex')}`;
      tokens.set(accessToken, { login: issued.login as FakeFacebookUser, scope: issued.scope });
      send(res, 200, { access_token: accessToken, token_type: 'bearer', expires_in: 5_183_944 });
      return true;
    }

    if (req.method === 'GET' && path === `${prefix}/me`) {
      const failure = fake.failure('me');
      if (failure) {
        send(res, failure.status, failure.body);
        return true;
      }
      const token = bearer(req, query, ['Bearer', 'OAuth']);
      const grant = token === null ? undefined : tokens.get(token);
      if (!grant || token === null) {
        graphError(res, 190, 'Invalid OAuth access token - Cannot parse access token');
        return true;
      }
      const expectedProof = createHmac('sha256', app.clientSecret).update(token).digest('hex');
      if (
        (query.appsecret_proof !== undefined && query.appsecret_proof !== expectedProof) ||
        (app.requireAppSecretProof && query.appsecret_proof === undefined)
      ) {
        graphError(res, 100, 'Invalid appsecret_proof provided in the API argument');
        return true;
      }
      const fields = (query.fields ?? 'id,name').split(',').map((field) => field.trim());
      const user = grant.login;
      const available: Record<string, string | undefined> = {
        id: user.id,
        name: user.name,
        email: grant.scope.includes('email') ? user.email : undefined,
      };
      const body: Record<string, string> = {};
      for (const field of fields) {
        if (!(field in available)) {
          graphError(res, 100, `(#100) Tried accessing nonexisting field (${field}) on node type (User)`);
          return true;
        }
        const value = available[field];
        if (value !== undefined) body[field] = value;
      }
      send(res, 200, body);
      return true;
    }
    return false;
  });
  const { url } = fake.server;
  return {
    ...fake.server,
    authorizeUrl: `${url}${prefix}/dialog/oauth`,
    tokenUrl: `${url}${prefix}/oauth/access_token`,
    graphUrl: `${url}${prefix}`,
  };
}

/** Cookies by origin, as a browser keeps them between redirects (attributes other than expiry ignored). */
export type CookieJar = Map<string, Map<string, string>>;

export interface FollowRedirectsOptions {
  /** Stop (without requesting it) at the first URL for which this is true. */
  until: (url: URL) => boolean;
  /** Shared between calls to act as one browser; default: a fresh jar (a fresh browser). */
  cookies?: CookieJar;
  /** Extra request headers (e.g. a User-Agent). */
  headers?: Record<string, string>;
  /** Default 20. */
  maxHops?: number;
}

function storeCookies(jar: CookieJar, origin: string, setCookies: string[]): void {
  const cookies = jar.get(origin) ?? new Map<string, string>();
  jar.set(origin, cookies);
  for (const line of setCookies) {
    const [pair = '', ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attributes.some((attribute) => {
      const [key = '', attrValue = ''] = attribute.split('=').map((part) => part.trim());
      if (key.toLowerCase() === 'max-age') return Number(attrValue) <= 0;
      if (key.toLowerCase() === 'expires') return Date.parse(attrValue) <= Date.now();
      return false;
    });
    if (expired) cookies.delete(name);
    else cookies.set(name, value);
  }
}

/**
 * Plays the browser for an OAuth redirect dance: GETs `start` and every `Location` it is redirected to, carrying
 * cookies per origin, until `until` matches a URL, which is returned unrequested (typically the callback URL, to
 * hand its query to the code under test). Throws when a page answers without a redirect first.
 */
export async function followOAuthRedirects(start: string, options: FollowRedirectsOptions): Promise<URL> {
  const jar = options.cookies ?? new Map();
  let url = new URL(start);
  for (let hop = 0; hop < (options.maxHops ?? 20); hop++) {
    if (options.until(url)) return url;
    const cookies = jar.get(url.origin);
    const cookieHeader = cookies ? [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') : '';
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { ...options.headers, ...(cookieHeader ? { cookie: cookieHeader } : {}) },
    });
    storeCookies(jar, url.origin, response.headers.getSetCookie());
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      const body = (await response.text()).slice(0, 500);
      throw new Error(`${url.origin}${url.pathname} answered ${response.status} without a redirect: ${body}`);
    }
    await response.body?.cancel();
    url = new URL(location, url);
  }
  throw new Error(`more than ${options.maxHops ?? 20} redirects without reaching the expected URL`);
}
