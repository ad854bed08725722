import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@gatehouse/logger';

/** Headers of the browser's request that identity's REST routes need. */
const FORWARDED_REQUEST_HEADERS = ['cookie', 'user-agent', 'accept', 'accept-language'] as const;
/** Headers of identity's answer that the browser needs (a redirect, its binding cookie, the error page). */
const FORWARDED_RESPONSE_HEADERS = ['location', 'content-type', 'cache-control', 'referrer-policy'] as const;

export interface RestProxyOptions {
  /** Paths starting with this prefix are proxied, e.g. `/auth/oauth/`. */
  readonly pathPrefix: string;
  /** Base URL of the service that answers them, e.g. identity's `http://127.0.0.1:4001`. */
  readonly target: string;
  readonly logger: Logger;
  /** Default 10 s: identity's callback exchanges the code with the provider, which has its own timeouts. */
  readonly timeoutMs?: number;
}

/**
 * Forwards browser GETs under a path prefix (the OAuth redirects) to the service that owns them, so the gateway
 * stays the one public door. Redirects are passed back to the browser, never followed; only the headers the
 * flow needs cross in either direction, plus the client's address as X-Forwarded-For.
 */
export function createRestProxy(
  options: RestProxyOptions,
): (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<boolean> {
  const { pathPrefix, logger } = options;
  const target = options.target.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;

  return async (req, res, requestId) => {
    const url = req.url ?? '/';
    if (!url.startsWith(pathPrefix)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'METHOD_NOT_ALLOWED' }));
      return true;
    }

    const headers = new Headers({ 'x-request-id': requestId });
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers.set(name, value);
    }
    const clientIp = req.socket.remoteAddress?.replace(/^::ffff:/, '');
    if (clientIp) headers.set('x-forwarded-for', clientIp);

    let upstream: Response;
    try {
      upstream = await fetch(`${target}${url}`, {
        method: req.method,
        headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      logger.error({ err, path: url.split('?', 1)[0], requestId }, 'REST proxy: upstream unreachable');
      res.writeHead(502, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: 'SERVICE_UNAVAILABLE' }));
      return true;
    }

    const out: Record<string, string | string[]> = { 'cache-control': 'no-store' };
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = upstream.headers.get(name);
      if (value !== null) out[name] = value;
    }
    const cookies = upstream.headers.getSetCookie();
    if (cookies.length > 0) out['set-cookie'] = cookies;
    const body = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, out);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
