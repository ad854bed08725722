import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAppError, ErrorCode } from '@gatehouse/errors';
import type { RouteHandler } from '@gatehouse/service';
import { clientFrom as clientFromRequest, type ClientInfo } from '../client-info';
import { BINDING_COOKIE, type OAuthHttpResponse, type OAuthService } from './oauth.service';

export interface OAuthRoutesOptions {
  logger: { warn(details: object, message: string): void };
  /** Who is calling; default: the first X-Forwarded-For entry (set by the gateway), else the socket address. */
  clientFrom?: (req: IncomingMessage, requestId: string) => ClientInfo;
}

const ROUTE = /^\/auth\/oauth\/([a-z0-9-]{1,64})\/(start|callback)$/;

/** The value of cookie `name` on the request, or null. */
export function readCookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** Every answer: never cached, and the codes in these URLs never leak through Referer. */
const COMMON_HEADERS = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };

function write(res: ServerResponse, response: OAuthHttpResponse): void {
  const headers: Record<string, string | string[]> = { ...COMMON_HEADERS };
  if (response.location) headers.location = response.location;
  if (response.setCookie) headers['set-cookie'] = response.setCookie;
  if (response.body !== undefined) {
    headers['content-type'] = response.contentType ?? 'text/plain; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(response.body));
  }
  res.writeHead(response.status, headers);
  res.end(response.body);
}

function json(status: number, body: object): OAuthHttpResponse {
  return { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(body) };
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
};

/**
 * The browser-facing OAuth routes, for identity's HTTP server (the gateway proxies `/auth/oauth/*`):
 *
 * - `GET /auth/oauth/<provider>/start?redirect_uri=<allow-listed URL>` → 302 to the provider with the
 *   `gatehouse_oauth` binding cookie; 400 `{error: OAUTH_PROVIDER_UNAVAILABLE | OAUTH_REDIRECT_URI_NOT_ALLOWED}`;
 *   503 `{error: OAUTH_PROVIDER_ERROR}` when an OpenID provider's discovery cannot be fetched.
 * - `GET /auth/oauth/<provider>/callback` → 302 to the flow's redirect URI (`code`, `linked` or `error`, and
 *   `state`; with a sign-in `code`, the `gatehouse_oauth_result` cookie `completeOAuthLogin` needs); 400
 *   `{error: OAUTH_STATE_INVALID}` without a valid state (no safe place to redirect to).
 * - Other methods on these paths: 405. Other paths: not handled (404 from the server).
 */
export function createOAuthRoutes(service: OAuthService, options: OAuthRoutesOptions): RouteHandler {
  const clientFrom = options.clientFrom ?? clientFromRequest;
  return async (req, res, requestId) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = ROUTE.exec(url.pathname);
    if (!match) return false;
    const [, provider = '', action] = match;
    if (req.method !== 'GET') {
      res.writeHead(405, {
        ...COMMON_HEADERS,
        allow: 'GET',
        'content-type': 'application/json; charset=utf-8',
      });
      res.end(JSON.stringify({ error: 'Method not allowed' }));
      return true;
    }
    const client = clientFrom(req, requestId);

    if (action === 'callback') {
      write(
        res,
        await service.handleCallback({
          provider,
          query: url.searchParams,
          browserBinding: readCookie(req, BINDING_COOKIE),
          client,
        }),
      );
      return true;
    }

    try {
      const started = await service.start({
        provider,
        redirectUri: url.searchParams.get('redirect_uri') ?? '',
        binding: 'cookie',
        client,
      });
      write(res, {
        status: 302,
        location: started.authorizationUrl,
        ...(started.setCookie ? { setCookie: started.setCookie } : {}),
      });
    } catch (error) {
      const status = isAppError(error) ? STATUS_BY_CODE[error.code] : undefined;
      if (!isAppError(error) || status === undefined) throw error;
      const reason = (error.details as { reason?: string } | undefined)?.reason;
      if (status === 503) options.logger.warn({ provider, requestId, reason }, 'OAuth start failed');
      write(res, json(status, { error: reason ?? error.code, message: error.message }));
    }
    return true;
  };
}
