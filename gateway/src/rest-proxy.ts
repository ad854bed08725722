import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '@gatehouse/logger';
import { setTraceHeaders } from '@gatehouse/service';

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
  /** Default 30 s: an OAuth callback talks to the provider, an avatar upload is decoded and re-encoded. */
  readonly timeoutMs?: number;
}

function matches(route: RestRoute, pathname: string): boolean {
  return route.path.endsWith('/') ? pathname.startsWith(route.path) : pathname === route.path;
}

/**
 * Forwards the plain HTTP routes of the subgraphs (OAuth redirects, avatar upload, unsubscribe links, stored
 * files) so the gateway stays the one public door. Bodies stream through in both directions (an avatar is not
 * buffered here; the owning route enforces its size limit), redirects are passed back to the browser and never
 * followed, only the listed headers cross, and the client's address travels as X-Forwarded-For.
 */
export function createRestProxy(
  options: RestProxyOptions,
): (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<boolean> {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;

  return async (req, res, requestId) => {
    const url = req.url ?? '/';
    const pathname = url.split('?', 1)[0] ?? '/';
    const route = options.routes.find((candidate) => matches(candidate, pathname));
    if (!route) return false;
    const method = req.method ?? 'GET';
    if (!route.methods.includes(method)) {
      res.writeHead(405, { allow: route.methods.join(', '), 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'METHOD_NOT_ALLOWED' }));
      return true;
    }

    const headers: Record<string, string> = { 'x-request-id': requestId };
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
    const clientIp = req.socket.remoteAddress?.replace(/^::ffff:/, '');
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

    const target = new URL(url, route.target);
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
