import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import { CsrfRefusal } from './errors';

/**
 * What the gateway does to every HTTP exchange before any route or GraphQL runs: security headers, CORS from
 * an allow-list (preflight answered here), and the CSRF double-submit check. Everything is computed from
 * headers only, without I/O, so it costs microseconds on the hot path.
 */

/** Request headers a cross-origin browser client may send (answered in preflight). */
const ALLOWED_REQUEST_HEADERS = [
  'authorization',
  'content-type',
  'x-csrf-token',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-request-id',
  'traceparent',
  'tracestate',
].join(', ');
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE';
/** Response headers a cross-origin script may read. */
const EXPOSED_HEADERS = 'retry-after, x-request-id, x-trace-id, traceresponse';
/** The double-submit cookie, and the header that must repeat it. */
export const CSRF_COOKIE = 'gh_csrf';
export const CSRF_HEADER = 'x-csrf-token';
/** `GET /auth/csrf` issues the token (cookie + JSON body). */
export const CSRF_PATH = '/auth/csrf';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Their own CORS policy (public key documents for anyone: `*`), set by the well-known handler. */
const OWN_CORS_PREFIX = '/.well-known/';

export interface HttpEdgeOptions {
  /** CORS_ORIGINS: exact origins (`https://app.example.com`) allowed to call with credentials. */
  readonly corsOrigins: readonly string[];
  /** Secure cookies (HTTPS deployments). */
  readonly production: boolean;
  /**
   * Paths whose unsafe requests authenticate by a token in the URL, not by cookies: exempt from the CSRF check
   * (the one-click `POST /unsubscribe` of RFC 8058, sent by mail providers).
   */
  readonly csrfExemptPaths?: readonly string[];
  /** Max-Age of the CSRF cookie; default 12 hours. */
  readonly csrfTokenTtlSeconds?: number;
}

export type HeaderGetter = (name: string) => string | undefined;

export interface HttpEdge {
  /** Security headers for every response (helmet's, computed once); CSP for JSON APIs. */
  readonly securityHeaders: readonly (readonly [string, string])[];
  /** CORS response headers for this request's Origin (empty when not allowed). */
  corsHeaders(origin: string | undefined): [string, string][];
  /** A preflight (`OPTIONS` with `Access-Control-Request-Method`)? */
  isPreflight(method: string, header: HeaderGetter): boolean;
  /** The preflight answer: 204 with the CORS grant for allowed origins, 403 otherwise. */
  preflight(origin: string | undefined): { status: number; headers: [string, string][]; body: string };
  /** The CSRF refusal this request deserves, or undefined when it may proceed. */
  csrfRefusal(method: string, path: string, header: HeaderGetter): CsrfRefusal | undefined;
  /**
   * Applies security and CORS headers to `res`, then answers what the edge answers itself: preflights, CSRF
   * refusals and `GET /auth/csrf`. Returns true when it answered. For routes other than `/graphql`.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/** The value of cookie `name` in a Cookie header. */
export function readCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const separator = part.indexOf('=');
    if (separator === -1) continue;
    if (part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

/** Whether the Cookie header carries any cookie other than the CSRF cookie itself (a cookie credential). */
function carriesCookieCredential(cookieHeader: string | undefined): boolean {
  if (!cookieHeader) return false;
  return cookieHeader.split(';').some((part) => {
    const name = part.split('=', 1)[0]?.trim();
    return name !== undefined && name !== '' && name !== CSRF_COOKIE;
  });
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // Lengths are not secret (every token is 43 characters); comparing them first avoids timingSafeEqual's throw.
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The headers helmet would set, collected once (they do not depend on the request). */
function helmetHeaders(): [string, string][] {
  const headers = new Map<string, string>();
  const collector = {
    setHeader: (name: string, value: string | number | readonly string[]) =>
      headers.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value)),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
    getHeader: (name: string) => headers.get(name.toLowerCase()),
  };
  const middleware = helmet({
    contentSecurityPolicy: {
      // The gateway serves JSON (and redirects); it never needs to load anything. The playground's HTML
      // answers with its own policy (PLAYGROUND_CONTENT_SECURITY_POLICY), which replaces this one.
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // Avatars and signed downloads under /files/ are embedded by first-party apps on sibling origins.
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
  // helmet's middleware is synchronous and only calls setHeader/removeHeader on the response.
  middleware({} as IncomingMessage, collector as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return [...headers];
}

export function createHttpEdge(options: HttpEdgeOptions): HttpEdge {
  const origins = new Set(options.corsOrigins);
  const exempt = new Set(options.csrfExemptPaths ?? []);
  const ttl = options.csrfTokenTtlSeconds ?? 12 * 60 * 60;
  const securityHeaders = helmetHeaders();

  const corsHeaders = (origin: string | undefined): [string, string][] => {
    if (!origin || !origins.has(origin)) return [['vary', 'Origin']];
    return [
      ['access-control-allow-origin', origin],
      ['access-control-allow-credentials', 'true'],
      ['access-control-expose-headers', EXPOSED_HEADERS],
      ['vary', 'Origin'],
    ];
  };

  const isPreflight = (method: string, header: HeaderGetter) =>
    method === 'OPTIONS' && header('access-control-request-method') !== undefined;

  const preflight = (origin: string | undefined) => {
    if (!origin || !origins.has(origin)) {
      return {
        status: 403,
        headers: [
          ['vary', 'Origin'],
          ['content-type', 'application/json; charset=utf-8'],
        ] as [string, string][],
        body: JSON.stringify({ error: 'CORS_ORIGIN_NOT_ALLOWED' }),
      };
    }
    return {
      status: 204,
      headers: [
        ...corsHeaders(origin),
        ['access-control-allow-methods', ALLOWED_METHODS],
        ['access-control-allow-headers', ALLOWED_REQUEST_HEADERS],
        ['access-control-max-age', '600'],
      ] as [string, string][],
      body: '',
    };
  };

  const csrfRefusal = (method: string, path: string, header: HeaderGetter): CsrfRefusal | undefined => {
    if (!UNSAFE_METHODS.has(method) || exempt.has(path)) return undefined;
    // A bearer token is sent by script, never attached by the browser on its own: no CSRF.
    if (header('authorization')) return undefined;
    const cookies = header('cookie');
    if (!carriesCookieCredential(cookies)) return undefined;
    const sent = header(CSRF_HEADER);
    const expected = readCookie(cookies, CSRF_COOKIE);
    if (!sent || !expected) return CsrfRefusal.CSRF_TOKEN_MISSING;
    return constantTimeEqual(sent, expected) ? undefined : CsrfRefusal.CSRF_TOKEN_MISMATCH;
  };

  const issueCsrfToken = (req: IncomingMessage, res: ServerResponse) => {
    const existing = readCookie(req.headers.cookie, CSRF_COOKIE);
    // Keep a well-formed existing token: several tabs must not rotate each other's token away.
    const token =
      existing && /^[A-Za-z0-9_-]{43}$/.test(existing) ? existing : randomBytes(32).toString('base64url');
    const cookie = [
      `${CSRF_COOKIE}=${token}`,
      'Path=/',
      `Max-Age=${ttl}`,
      'HttpOnly',
      'SameSite=Strict',
      ...(options.production ? ['Secure'] : []),
    ].join('; ');
    const body = JSON.stringify({ csrfToken: token, header: CSRF_HEADER });
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'set-cookie': cookie,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  return {
    securityHeaders,
    corsHeaders,
    isPreflight,
    preflight,
    csrfRefusal,
    handle(req, res) {
      const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
      const method = req.method ?? 'GET';
      const header: HeaderGetter = (name) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value.join(', ') : value;
      };
      for (const [name, value] of securityHeaders) res.setHeader(name, value);
      if (path.startsWith(OWN_CORS_PREFIX)) return false;
      const origin = header('origin');
      for (const [name, value] of corsHeaders(origin)) res.setHeader(name, value);
      if (isPreflight(method, header)) {
        const answer = preflight(origin);
        res.writeHead(answer.status, Object.fromEntries(answer.headers));
        res.end(answer.body);
        return true;
      }
      const refusal = csrfRefusal(method, path, header);
      if (refusal) {
        const body = JSON.stringify({ error: 'FORBIDDEN', reason: refusal });
        res.writeHead(403, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'no-store',
        });
        res.end(body);
        return true;
      }
      if (path === CSRF_PATH) {
        if (method !== 'GET') {
          res.writeHead(405, { allow: 'GET', 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ error: 'Method not allowed' }));
          return true;
        }
        issueCsrfToken(req, res);
        return true;
      }
      return false;
    },
  };
}
