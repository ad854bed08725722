import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, AuthenticationError, ErrorCode, HTTP_STATUS_BY_ERROR_CODE } from '@gatehouse/errors';
import { childForRequest, type Logger } from '@gatehouse/logger';
import {
  bearerTokenFrom,
  IMPERSONATION_FORBIDDEN,
  readBodyUpTo,
  sendJson,
  type AccessTokenVerifier,
  type RouteHandler,
  type SessionCheck,
  type Viewer,
} from '@gatehouse/service';
import type { AvatarService } from './avatar.service';
import { AvatarErrorCode } from './error-codes';
import { AVATAR_MAX_BYTES, AvatarError } from './process-avatar';

/** Where the avatar endpoint is served (the gateway forwards the same path). */
export const AVATAR_ROUTE_PATH = '/account/avatar';

/**
 * `error` values of the avatar endpoint's JSON error bodies besides the {@link AvatarErrorCode} reasons.
 * Stable across releases.
 */
export const AvatarRouteErrorCode = {
  /** 401: no `Authorization: Bearer` token, or it is invalid, expired or its session has ended. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** 403: an impersonation token (`act` claim): an administrator acting as the user may look, not change. */
  IMPERSONATION_FORBIDDEN: IMPERSONATION_FORBIDDEN,
  /** 405: only PUT, POST and DELETE are served. */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** 500: something failed on our side; the request id in `x-request-id` finds it in the logs. */
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

export interface AvatarRoutesOptions {
  avatars: Pick<AvatarService, 'upload' | 'remove'>;
  /** Verifies the access token; `null` (no key configured) refuses every request. */
  verifier: AccessTokenVerifier | null;
  /** Refuses tokens of ended sessions, as the GraphQL context does. */
  sessionCheck?: SessionCheck;
  logger: Logger;
  /** Default {@link AVATAR_ROUTE_PATH}. */
  path?: string;
}

const ALLOWED_METHODS = 'PUT, POST, DELETE';

/** HTTP status of each refusal reason of `processAvatar`. */
const AVATAR_ERROR_STATUS: Record<AvatarErrorCode, number> = {
  [AvatarErrorCode.AVATAR_TOO_LARGE]: 413,
  [AvatarErrorCode.AVATAR_TYPE_UNSUPPORTED]: 415,
  [AvatarErrorCode.AVATAR_TOO_MANY_PIXELS]: 400,
  [AvatarErrorCode.AVATAR_CORRUPT]: 400,
};

/**
 * Sent when the request body was not (fully) read: the connection is closed after the response, so the rest of
 * an unwanted upload is never read into memory and cannot be mistaken for the next request.
 */
const CLOSE = { connection: 'close' } as const;

/**
 * REST endpoint for avatars (served by the account subgraph; the gateway forwards it):
 *
 * - `PUT /account/avatar` (or `POST`): the body is the image itself, up to 5 MB, any `Content-Type` (the type is
 *   judged from the bytes: JPEG, PNG or WebP). `Authorization: Bearer <access token>` is required.
 *   200 `{ avatar: { original, sizes: { 50, 150, 300 } } }` with the new public URLs.
 * - `DELETE /account/avatar`: removes the avatar; 204 (also when there was none).
 *
 * Errors are JSON `{ error: <code>, message }`: 401 `UNAUTHENTICATED` (with `WWW-Authenticate: Bearer`);
 * 403 `IMPERSONATION_FORBIDDEN` (an impersonation token; before any of the body is read);
 * 413 `AVATAR_TOO_LARGE` (as soon as the declared or received size exceeds 5 MB; the rest is not read);
 * 415 `AVATAR_TYPE_UNSUPPORTED`; 400 `AVATAR_TOO_MANY_PIXELS` or `AVATAR_CORRUPT`; 404 `USER_NOT_FOUND`;
 * 405 `METHOD_NOT_ALLOWED`; 500 `INTERNAL_SERVER_ERROR` (details only in the log, never a stack trace).
 * Authentication happens before any of the body is read.
 */
export function createAvatarRoutes(options: AvatarRoutesOptions): RouteHandler {
  const { avatars, verifier, sessionCheck } = options;
  const routePath = options.path ?? AVATAR_ROUTE_PATH;

  /** The viewer, or null when the request is not authenticated (missing, malformed, invalid, ended session). */
  async function authenticate(req: IncomingMessage): Promise<Viewer | null> {
    try {
      const token = bearerTokenFrom(req.headers.authorization);
      if (token === undefined || verifier === null) return null;
      const viewer = await verifier.verify(token);
      if (sessionCheck && viewer.sessionId !== undefined && !(await sessionCheck(viewer))) return null;
      return viewer;
    } catch (error) {
      // Any other failure (the session store being down) is ours, not the client's: it must not look like a 401.
      if (error instanceof AuthenticationError) return null;
      throw error;
    }
  }

  function sendError(error: unknown, res: ServerResponse, logger: Logger): void {
    if (error instanceof AvatarError) {
      sendJson(res, AVATAR_ERROR_STATUS[error.reason] ?? 400, {
        error: error.reason,
        message: error.message,
      });
      return;
    }
    // An internal error is logged and answered generically below, whatever its message.
    const status =
      error instanceof AppError && error.code !== ErrorCode.INTERNAL_SERVER_ERROR
        ? HTTP_STATUS_BY_ERROR_CODE[error.code]
        : undefined;
    if (error instanceof AppError && status !== undefined) {
      const reason = (error.details as { reason?: unknown } | undefined)?.reason;
      sendJson(res, status, {
        error: typeof reason === 'string' ? reason : error.code,
        message: error.message,
      });
      return;
    }
    logger.error({ err: error }, 'avatar request failed');
    sendJson(res, 500, {
      error: AvatarRouteErrorCode.INTERNAL_SERVER_ERROR,
      message: 'Internal server error',
    });
  }

  return async (req, res, requestId) => {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    if ((queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart)) !== routePath) return false;
    const logger = childForRequest(options.logger, requestId);

    try {
      const method = req.method ?? 'GET';
      if (method !== 'PUT' && method !== 'POST' && method !== 'DELETE') {
        sendJson(
          res,
          405,
          { error: AvatarRouteErrorCode.METHOD_NOT_ALLOWED, message: 'Method not allowed' },
          { allow: ALLOWED_METHODS, ...CLOSE },
        );
        return true;
      }

      const viewer = await authenticate(req);
      if (!viewer) {
        const challenge = req.headers.authorization === undefined ? 'Bearer' : 'Bearer error="invalid_token"';
        sendJson(
          res,
          401,
          { error: AvatarRouteErrorCode.UNAUTHENTICATED, message: 'Sign in to change your avatar' },
          { 'www-authenticate': challenge, ...CLOSE },
        );
        return true;
      }
      if (viewer.impersonatorUserId !== undefined) {
        sendJson(
          res,
          403,
          {
            error: AvatarRouteErrorCode.IMPERSONATION_FORBIDDEN,
            message: 'Not allowed while impersonating a user',
          },
          CLOSE,
        );
        return true;
      }

      if (method === 'DELETE') {
        await avatars.remove(viewer.userId);
        res.writeHead(204, { 'cache-control': 'no-store' });
        res.end();
        return true;
      }

      const tooLarge = () =>
        sendJson(
          res,
          413,
          {
            error: AvatarErrorCode.AVATAR_TOO_LARGE,
            message: `The image is larger than ${AVATAR_MAX_BYTES / (1024 * 1024)} MB`,
          },
          CLOSE,
        );
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > AVATAR_MAX_BYTES) {
        tooLarge();
        return true;
      }
      const body = await readBodyUpTo(req, AVATAR_MAX_BYTES);
      if (body === null) {
        tooLarge();
        return true;
      }

      const avatar = await avatars.upload(viewer.userId, body);
      sendJson(res, 200, { avatar });
      return true;
    } catch (error) {
      if (res.headersSent || req.socket.destroyed) {
        // Nothing can be sent any more (the client went away, or the response had already started).
        logger.warn({ err: error }, 'avatar request ended without a response');
        res.destroy();
        return true;
      }
      sendError(error, res, logger);
      return true;
    }
  };
}
