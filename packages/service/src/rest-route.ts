import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, AuthenticationError, ErrorCode, HTTP_STATUS_BY_ERROR_CODE } from '@gatehouse/errors';
import { bearerTokenFrom, type AccessTokenVerifier, type Viewer } from './auth';
import type { RouteHandler } from './http-server';
import type { EffectivePermissions } from './permission-rules';
import { readBodyUpTo } from './request-body';
import { IMPERSONATION_FORBIDDEN } from './rules';
import type { SessionCheck } from './session-status';

/**
 * The one error body of every plain HTTP route: `error` is a stable UPPER_SNAKE code clients switch on,
 * `message` is for humans. `field` names the offending input when there is one; `details` carries
 * machine-readable data that is safe to show (validation issues, quota figures). Never a stack trace.
 */
export interface RestErrorBody {
  error: string;
  message: string;
  field?: string;
  details?: unknown;
}

/** `error` codes the skeleton itself answers with. Stable across releases. */
export const RestErrorCode = {
  /** 400: the JSON body does not parse. */
  BAD_USER_INPUT: ErrorCode.BAD_USER_INPUT,
  /** 401: no valid credential (with `WWW-Authenticate`). */
  UNAUTHENTICATED: ErrorCode.UNAUTHENTICATED,
  /** 403: authenticated, but not allowed. */
  FORBIDDEN: ErrorCode.FORBIDDEN,
  /** 405: the path exists, the method does not (with `Allow`). */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** 413: the body is over the route's limit (the connection is closed: the rest is never read). */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** 415: the route takes JSON and the body is something else. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** 500: something failed on our side; the `x-request-id` finds it in the logs. */
  INTERNAL_SERVER_ERROR: ErrorCode.INTERNAL_SERVER_ERROR,
} as const;

export interface RestErrorOptions {
  headers?: Record<string, string>;
  field?: string;
  details?: unknown;
}

/**
 * A refusal a route (or its authentication) answers on purpose, with its status and stable code. Thrown
 * anywhere in a {@link createRestRoute} handler; never logged as a failure.
 */
export class RestError extends Error {
  readonly headers: Record<string, string>;
  readonly field?: string;
  readonly details?: unknown;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: RestErrorOptions = {},
  ) {
    super(message);
    this.name = 'RestError';
    this.headers = options.headers ?? {};
    if (options.field !== undefined) this.field = options.field;
    if (options.details !== undefined) this.details = options.details;
  }
}

/** What a handler answers. `streamed`: the handler wrote (and ended or destroyed) the response itself. */
export type RestResult =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; html: string; headers?: Record<string, string> }
  | { status: number; empty: true; headers?: Record<string, string> }
  | { streamed: true };

/** What a handler receives: the request already matched, authenticated and (for POST/PUT/PATCH) read. */
export interface RestRequest<P> {
  req: IncomingMessage;
  /** For handlers that stream (return `{ streamed: true }`); others return a result instead. */
  res: ServerResponse;
  method: string;
  /** The path, without the query string. */
  path: string;
  query: URLSearchParams;
  requestId: string;
  /** What `authenticate` returned; `undefined` for routes without authentication. */
  principal: P;
  /** The raw body (`body.kind` 'raw' or 'json'), for POST, PUT and PATCH only. */
  body?: Buffer;
  /** The parsed body (`body.kind` 'json'). */
  json?: unknown;
}

export interface RestAuthentication<P> {
  /**
   * The caller, or `null` when the request is not authenticated (401). Throw a {@link RestError} (403) to refuse
   * an authenticated caller; a thrown `AuthenticationError` also counts as 401, anything else answers 500.
   */
  principal(req: IncomingMessage): Promise<P | null>;
  /** The 401's `message`. Default 'Authentication required'. */
  message?: string;
  /**
   * The 401's `WWW-Authenticate`: `'bearer'` always sends `Bearer`; `'bearer-token-error'` (default) adds
   * `error="invalid_token"` when a credential was presented (RFC 6750 §3), so clients can tell "expired" from
   * "anonymous".
   */
  challenge?: 'bearer' | 'bearer-token-error';
}

export interface RestBodyOptions {
  /** Larger bodies answer 413 at once (declared or received size); the rest is not read. */
  maxBytes: number;
  /**
   * `raw`: `body` is the bytes (e.g. a webhook signature is computed over them); `json`: the content type must
   * be JSON (else 415) and the body must parse (else 400), `json` holds it; `discard`: read and dropped.
   */
  kind: 'raw' | 'json' | 'discard';
  /** The 413's code and message. Default `PAYLOAD_TOO_LARGE`, 'Request body too large'. */
  tooLarge?: { code: string; message: string };
  /** The 415's message for `json` bodies. */
  unsupportedMediaTypeMessage?: string;
}

/** The part of a logger the skeleton uses (pino's, or a route's narrower one). */
export interface RestRouteLogger {
  error(details: object, message: string): void;
  warn?(details: object, message: string): void;
}

export interface RestRouteOptions<P> {
  /** Names the route in log lines. */
  name: string;
  /** The exact path (query string ignored), or a pattern tested against it. Other paths fall through. */
  path: string | RegExp;
  /** Served methods; others answer 405 with `Allow`. List HEAD to serve it: its answers carry no body. */
  methods: readonly string[];
  logger: RestRouteLogger;
  /** Omit for routes whose authority is elsewhere (a signed link, a webhook signature). */
  authenticate?: RestAuthentication<P>;
  /** Read for POST, PUT and PATCH, after authentication. Omit: bodies are left unread. */
  body?: RestBodyOptions;
  /** Sent with every answer of the route, errors included. */
  headers?: Record<string, string>;
  /**
   * HTTP status by error `reason`, for AppErrors whose reason needs another status than their code's (an image
   * that is too large: 413, though its code is BAD_USER_INPUT).
   */
  reasonStatus?: Readonly<Record<string, number>>;
  handle(request: RestRequest<P>): Promise<RestResult>;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function isJsonContentType(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/** Whether the request carries a body: then answering without reading it must close the connection. */
function hasBody(req: IncomingMessage): boolean {
  const declared = Number(req.headers['content-length']);
  return (Number.isFinite(declared) && declared > 0) || req.headers['transfer-encoding'] !== undefined;
}

/**
 * An AppError as the one error body: its `details.reason` (a feature's finer code) or its code; `details.field`
 * as `field`; `details` itself only when it says more than reason and field (it is safe to show by contract).
 */
function fromAppError(error: AppError, reasonStatus: Readonly<Record<string, number>>): RestError | null {
  const details = error.details;
  const record =
    typeof details === 'object' && details !== null && !Array.isArray(details)
      ? (details as Record<string, unknown>)
      : undefined;
  const reason = typeof record?.reason === 'string' ? record.reason : undefined;
  const status =
    (reason === undefined ? undefined : reasonStatus[reason]) ?? HTTP_STATUS_BY_ERROR_CODE[error.code];
  // An internal error's message is ours, not the client's: answered generically by the caller.
  if (error.code === ErrorCode.INTERNAL_SERVER_ERROR || status === undefined) return null;
  const headers: Record<string, string> = {};
  const retryAfter = record?.retryAfterSeconds;
  if (typeof retryAfter === 'number' && Number.isFinite(retryAfter))
    headers['retry-after'] = String(retryAfter);
  else if (error.code === ErrorCode.SERVICE_UNAVAILABLE) headers['retry-after'] = '1';
  const field = typeof record?.field === 'string' ? record.field : undefined;
  const saysMore =
    details !== undefined &&
    (record === undefined || Object.keys(record).some((key) => key !== 'reason' && key !== 'field'));
  return new RestError(status, reason ?? error.code, error.message, {
    headers,
    ...(field === undefined ? {} : { field }),
    ...(saysMore ? { details } : {}),
  });
}

function challengeFor(req: IncomingMessage, challenge: RestAuthentication<unknown>['challenge']): string {
  if (challenge === 'bearer' || req.headers.authorization === undefined) return 'Bearer';
  return 'Bearer error="invalid_token"';
}

/**
 * One plain HTTP route on the kit's server (a {@link RouteHandler}): it matches the path, answers 405 for other
 * methods, authenticates (401/403), reads the body within its limit (413, 415, 400), runs the handler and sends
 * its typed result. Every refusal and failure has the one {@link RestErrorBody} shape; an unexpected error is
 * logged and answered 500 `INTERNAL_SERVER_ERROR` with no detail. A response sent before the request's body was
 * read closes the connection, so the rest of an unwanted upload is never read nor taken for the next request.
 * Every answer is `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`.
 */
export function createRestRoute<P = undefined>(options: RestRouteOptions<P>): RouteHandler {
  const { path: routePath, authenticate, body: bodyOptions, logger } = options;
  const allow = options.methods.join(', ');
  const methods = new Set(options.methods);
  const routeHeaders = options.headers ?? {};
  const reasonStatus = options.reasonStatus ?? {};
  const matches = (path: string) =>
    typeof routePath === 'string' ? path === routePath : routePath.test(path);

  return async (req, res, requestId) => {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    if (!matches(path)) return false;
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    let bodyRead = false;

    const send = (status: number, headers: Record<string, string>, payload?: string, type?: string) => {
      const all: Record<string, string> = {
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        ...routeHeaders,
        ...headers,
      };
      if (!bodyRead && hasBody(req)) all.connection = 'close';
      if (payload !== undefined && type !== undefined) {
        all['content-type'] = type;
        all['content-length'] = String(Buffer.byteLength(payload));
      }
      res.writeHead(status, all);
      res.end(head ? undefined : payload);
    };
    const sendError = (error: RestError) => {
      const body: RestErrorBody = {
        error: error.code,
        message: error.message,
        ...(error.field === undefined ? {} : { field: error.field }),
        ...(error.details === undefined ? {} : { details: error.details }),
      };
      send(error.status, error.headers, JSON.stringify(body), 'application/json; charset=utf-8');
    };

    try {
      if (!methods.has(method)) {
        throw new RestError(405, RestErrorCode.METHOD_NOT_ALLOWED, 'Method not allowed', {
          headers: { allow },
        });
      }
      // A route without `authenticate` is declared with P = undefined (the default), so this cast is exact there.
      let principal = undefined as P;
      if (authenticate) {
        let found: P | null;
        try {
          found = await authenticate.principal(req);
        } catch (error) {
          if (!(error instanceof AuthenticationError)) throw error;
          found = null;
        }
        if (found === null) {
          throw new RestError(
            401,
            RestErrorCode.UNAUTHENTICATED,
            authenticate.message ?? 'Authentication required',
            { headers: { 'www-authenticate': challengeFor(req, authenticate.challenge) } },
          );
        }
        principal = found;
      }

      const request: RestRequest<P> = {
        req,
        res,
        method,
        path,
        query: new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1)),
        requestId,
        principal,
      };
      if (bodyOptions && BODY_METHODS.has(method)) {
        if (bodyOptions.kind === 'json' && !isJsonContentType(req.headers['content-type'])) {
          throw new RestError(
            415,
            RestErrorCode.UNSUPPORTED_MEDIA_TYPE,
            bodyOptions.unsupportedMediaTypeMessage ?? 'Send the body as application/json',
          );
        }
        const raw = await readBodyUpTo(req, bodyOptions.maxBytes);
        if (raw === null) {
          const { code, message } = bodyOptions.tooLarge ?? {
            code: RestErrorCode.PAYLOAD_TOO_LARGE,
            message: 'Request body too large',
          };
          throw new RestError(413, code, message);
        }
        bodyRead = true;
        if (bodyOptions.kind !== 'discard') request.body = raw;
        if (bodyOptions.kind === 'json') {
          try {
            request.json = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new RestError(400, RestErrorCode.BAD_USER_INPUT, 'Malformed JSON body');
          }
        }
      }

      const result = await options.handle(request);
      if ('streamed' in result) return true;
      if ('json' in result) {
        send(
          result.status,
          result.headers ?? {},
          JSON.stringify(result.json),
          'application/json; charset=utf-8',
        );
      } else if ('html' in result) {
        send(result.status, result.headers ?? {}, result.html, 'text/html; charset=utf-8');
      } else {
        send(result.status, result.headers ?? {});
      }
      return true;
    } catch (error) {
      if (res.headersSent || req.socket.destroyed) {
        // Nothing can be sent any more (the client went away, or the response had already started).
        logger.warn?.({ err: error, requestId }, `${options.name}: request ended without a response`);
        res.destroy();
        return true;
      }
      const refusal =
        error instanceof RestError
          ? error
          : error instanceof AppError
            ? fromAppError(error, reasonStatus)
            : null;
      if (refusal) {
        sendError(refusal);
        return true;
      }
      logger.error({ err: error, requestId }, `${options.name}: request failed`);
      sendError(new RestError(500, RestErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error'));
      return true;
    }
  };
}

export interface BearerViewerOptions {
  /** Verifies the access token; `null` (no key configured) refuses every token. */
  verifier: AccessTokenVerifier | null;
  /** Refuses tokens of ended sessions, as the GraphQL context does. */
  sessionCheck?: SessionCheck;
}

/**
 * The verified viewer of the request's `Authorization: Bearer` access token, or `null` when there is none or it
 * is malformed, invalid, expired or of an ended session. Any other failure (the session store being down) is
 * ours, not the client's, and is thrown: it must not look like a 401.
 */
export async function bearerViewerFrom(
  req: IncomingMessage,
  options: BearerViewerOptions,
): Promise<Viewer | null> {
  const { verifier, sessionCheck } = options;
  try {
    const token = bearerTokenFrom(req.headers.authorization);
    if (token === undefined || verifier === null) return null;
    const viewer = await verifier.verify(token);
    if (sessionCheck && viewer.sessionId !== undefined && !(await sessionCheck(viewer))) return null;
    return viewer;
  } catch (error) {
    if (error instanceof AuthenticationError) return null;
    throw error;
  }
}

export interface ViewerAuthenticationOptions extends BearerViewerOptions {
  /** The permission the viewer needs (403 `FORBIDDEN` without it). */
  permission?: string;
  /**
   * The viewer's live permissions (`createEffectivePermissions`): a revoked permission counts at once. Without it,
   * the token's `permissions` claim decides; a role claim never does.
   */
  effectivePermissions?: Pick<EffectivePermissions, 'of'>;
  /** 403 `IMPERSONATION_FORBIDDEN` for impersonation tokens (`act` claim): an administrator may look, not change. */
  refuseImpersonation?: boolean;
  /** The 401's message. */
  message?: string;
  /** The 403's message when the permission is missing. */
  forbiddenMessage?: string;
  challenge?: RestAuthentication<Viewer>['challenge'];
}

/** The `authenticate` of a route for signed-in users: a valid access token, and the permission when one is named. */
export function viewerAuthentication(options: ViewerAuthenticationOptions): RestAuthentication<Viewer> {
  return {
    ...(options.message === undefined ? {} : { message: options.message }),
    ...(options.challenge === undefined ? {} : { challenge: options.challenge }),
    async principal(req) {
      const viewer = await bearerViewerFrom(req, options);
      if (viewer === null) return null;
      if (options.refuseImpersonation && viewer.impersonatorUserId !== undefined) {
        throw new RestError(403, IMPERSONATION_FORBIDDEN, 'Not allowed while impersonating a user');
      }
      const { permission } = options;
      if (permission !== undefined) {
        const allowed = options.effectivePermissions
          ? (await options.effectivePermissions.of(viewer.userId)).has(permission)
          : viewer.permissions?.includes(permission) === true;
        if (!allowed) {
          throw new RestError(403, RestErrorCode.FORBIDDEN, options.forbiddenMessage ?? 'Not allowed');
        }
      }
      return viewer;
    },
  };
}
