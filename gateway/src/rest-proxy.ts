import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '@gatehouse/logger';
import { setTraceHeaders, SUBGRAPH_SECRET_HEADER } from '@gatehouse/service';
import { peerAddressOf, type ClientAddressResolver } from './protection/client-address';

/** Headers of the browser's request that the owning service's REST routes may need. */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'accept-language',
  'content-length',
  'content-type',
  'cookie',
  'if-none-match',
  'user-agent',
] as const;
/** Headers of the service's answer that the browser needs (a redirect, a cookie, a file, an error page). */
const FORWARDED_RESPONSE_HEADERS = [
  'cache-control',
  'content-length',
  'content-security-policy',
  'content-type',
  'etag',
  'last-modified',
  'location',
  'referrer-policy',
  // 429 and 503 answers (usage quota) say when to come back.
  'retry-after',
  'set-cookie',
  'x-content-type-options',
] as const;

export interface RestRoute {
  /** A path prefix (`/auth/oauth/`, `/files/`) or an exact path (`/unsubscribe`, `/account/avatar`). */
  readonly path: string;
  /** Base URL of the service that answers, e.g. identity's `http://127.0.0.1:4001`. */
  readonly target: string;
  /** Methods passed on; others get 405. */
  readonly methods: readonly string[];
  /** Pass `Authorization` on (routes that authenticate the caller themselves, e.g. avatar upload). */
  readonly forwardAuthorization?: boolean;
  /** Further request headers this route needs (`stripe-signature`, `idempotency-key`), lower case. */
  readonly forwardHeaders?: readonly string[];
  /**
   * Largest request body passed on; a larger declared `Content-Length` is answered 413 at once, and a body that
   * grows past it while streaming is cut off with 413. Default 64 KiB (forms, one-click POSTs).
   */
  readonly maxBodyBytes?: number;
}

export interface RestProxyOptions {
  readonly routes: readonly RestRoute[];
  readonly logger: Logger;
  /** SUBGRAPH_SECRET, sent to the owning service with every request (subgraphs answer nothing else). */
  readonly subgraphSecret: string;
  /** Who the client is (TRUST_PROXY), sent as the only `X-Forwarded-For` entry; default the TCP peer. */
  readonly clientAddress?: ClientAddressResolver;
  /** Default 30 s: an OAuth callback talks to the provider, an avatar upload is decoded and re-encoded. */
  readonly timeoutMs?: number;
}

/** The `error` of a 400 for a request path that could walk out of a route's prefix (see {@link normaliseRestPath}). */
export const INVALID_PATH = 'INVALID_PATH';

/** `%2e` (.), `%2f` (/), `%5c` (\\) and `%25` (%, i.e. double encoding), in any case. */
const ENCODED_SEPARATOR_OR_PERCENT = /%(?:2e|2f|5c|25)/i;
/** A `%` not followed by two hex digits: not a valid encoding, so not one we can reason about. */
const MALFORMED_PERCENT = /%(?![0-9a-f]{2})/i;

/**
 * The path a REST route is matched on and forwarded with, or `null` when the request must be refused: anything that
 * could make the path mean something else to the owning service (or to `new URL`) than to the matcher. The raw path
 * must start with `/` and hold no backslash, no encoded `.`, `/`, `\` or `%` (double encoding) and no malformed
 * `%`; decoded once, it must be valid UTF-8 without control characters, and no segment may be empty (`//`), `.` or
 * `..`. What is left is forwarded re-encoded segment by segment, so the service sees exactly the path that was
 * matched.
 */
export function normaliseRestPath(rawPath: string): string | null {
  if (!rawPath.startsWith('/') || rawPath.includes('\\')) return null;
  if (ENCODED_SEPARATOR_OR_PERCENT.test(rawPath) || MALFORMED_PERCENT.test(rawPath)) return null;
  const segments = rawPath.slice(1).split('/');
  const decoded: string[] = [];
  for (const [index, segment] of segments.entries()) {
    let value: string;
    try {
      value = decodeURIComponent(segment);
    } catch {
      return null;
    }
    // A trailing slash (`/auth/oauth/`) leaves one empty last segment; an empty one elsewhere is `//`.
    if (value === '' && index !== segments.length - 1) return null;
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    if (value === '.' || value === '..' || /[\u0000-\u001f\u007f\\]/.test(value)) return null;
    decoded.push(value);
  }
  return `/${decoded.map(encodePathSegment).join('/')}`;
}

/** encodeURIComponent, except for what RFC 3986 allows as is in a path segment (`: @ $ & + , ; =`). */
function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(?:3A|40|24|26|2B|2C|3B|3D)/g, (escape) =>
    decodeURIComponent(escape),
  );
}

/** Whether `route` answers `path` (a path from {@link normaliseRestPath}, never a raw one). */
export function matchesRestRoute(route: RestRoute, path: string): boolean {
  return route.path.endsWith('/') ? path.startsWith(route.path) : path === route.path;
}

/**
 * The request's normalised path and the route answering it (`route` undefined: none does), or `null` when the path
 * must be refused with 400 {@link INVALID_PATH}.
 */
export function findRestRoute(
  routes: readonly RestRoute[],
  rawUrl: string,
): { path: string; search: string; route: RestRoute | undefined } | null {
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  const path = normaliseRestPath(rawPath);
  if (path === null) return null;
  const search = queryStart === -1 ? '' : rawUrl.slice(queryStart);
  return { path, search, route: routes.find((candidate) => matchesRestRoute(candidate, path)) };
}

/**
 * Forwards the plain HTTP routes of the subgraphs (OAuth redirects, avatar upload, unsubscribe links, stored
 * files) so the gateway stays the one public door. Bodies stream through in both directions (an avatar is not
 * buffered here; the owning route enforces its size limit), redirects are passed back to the browser and never
 * followed, only the listed headers cross, and the client's address travels as X-Forwarded-For. Routes are matched
 * on the normalised path only ({@link normaliseRestPath}); a path that could escape its prefix is answered 400
 * `INVALID_PATH` and never reaches a service. Every forwarded request carries SUBGRAPH_SECRET.
 */
export function createRestProxy(
  options: RestProxyOptions,
): (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<boolean> {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;

  return async (req, res, requestId) => {
    const found = findRestRoute(options.routes, req.url ?? '/');
    // Refused whatever route it looks like: the gateway serves no path with dot segments or encoded separators.
    if (found === null) {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: INVALID_PATH }));
      return true;
    }
    const { path: pathname, search, route } = found;
    if (!route) return false;
    const method = req.method ?? 'GET';
    if (!route.methods.includes(method)) {
      res.writeHead(405, { allow: route.methods.join(', '), 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'METHOD_NOT_ALLOWED' }));
      return true;
    }

    const headers: Record<string, string> = {
      'x-request-id': requestId,
      [SUBGRAPH_SECRET_HEADER]: options.subgraphSecret,
    };
    setTraceHeaders({ set: (name, value) => void (headers[name] = value) });
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    for (const name of route.forwardHeaders ?? []) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (route.forwardAuthorization && typeof req.headers.authorization === 'string') {
      headers.authorization = req.headers.authorization;
    }
    const clientIp = (options.clientAddress ?? peerAddressOf)(req);
    if (clientIp) headers['x-forwarded-for'] = clientIp;

    const maxBodyBytes = route.maxBodyBytes ?? 64 * 1024;
    const tooLarge = () => {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: 'PAYLOAD_TOO_LARGE' }));
    };
    const declared = Number(req.headers['content-length'] ?? 0);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      req.resume();
      tooLarge();
      return true;
    }

    // The normalised path on the route's origin: never `new URL(raw, base)`, which resolves dot segments itself.
    const target = new URL(route.target);
    target.pathname = pathname;
    target.search = search;
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    await new Promise<void>((resolve) => {
      let answered = false;
      const fail = (err: Error) => {
        // The upstream may answer and close early (its own size or auth check): that answer stands.
        if (answered) return resolve();
        logger.error({ err, path: pathname, requestId }, 'REST proxy: upstream failed');
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(JSON.stringify({ error: 'SERVICE_UNAVAILABLE' }));
        } else {
          res.destroy();
        }
        resolve();
      };
      const upstream = send(target, { method, headers, timeout: timeoutMs }, (answer) => {
        answered = true;
        const out: Record<string, string | string[]> = {};
        for (const name of FORWARDED_RESPONSE_HEADERS) {
          const value = answer.headers[name];
          if (value !== undefined) out[name] = value;
        }
        out['cache-control'] ??= 'no-store';
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', fail);
      });
      upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
      upstream.on('error', fail);
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBodyBytes) {
          req.unpipe(upstream);
          upstream.destroy(new Error('request body too large'));
          answered = true;
          if (!res.headersSent) tooLarge();
          req.resume();
          resolve();
        }
      });
      req.pipe(upstream);
      req.on('error', () => upstream.destroy());
    });
    return true;
  };
}
