import type { Logger } from '@gatehouse/logger';
import {
  createRestRoute,
  IMPERSONATION_FORBIDDEN,
  viewerAuthentication,
  type AccessTokenVerifier,
  type RouteHandler,
  type SessionCheck,
  type Viewer,
} from '@gatehouse/service';
import type { AvatarService } from './avatar.service';
import { AvatarErrorCode } from './error-codes';
import { AVATAR_MAX_BYTES } from './process-avatar';

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

/** HTTP status of each refusal reason of `processAvatar`. */
const AVATAR_ERROR_STATUS: Record<AvatarErrorCode, number> = {
  [AvatarErrorCode.AVATAR_TOO_LARGE]: 413,
  [AvatarErrorCode.AVATAR_TYPE_UNSUPPORTED]: 415,
  [AvatarErrorCode.AVATAR_TOO_MANY_PIXELS]: 400,
  [AvatarErrorCode.AVATAR_CORRUPT]: 400,
};

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
  const { avatars } = options;
  return createRestRoute<Viewer>({
    name: 'avatar',
    path: options.path ?? AVATAR_ROUTE_PATH,
    methods: ['PUT', 'POST', 'DELETE'],
    logger: options.logger,
    authenticate: viewerAuthentication({
      verifier: options.verifier,
      ...(options.sessionCheck ? { sessionCheck: options.sessionCheck } : {}),
      refuseImpersonation: true,
      message: 'Sign in to change your avatar',
    }),
    body: {
      maxBytes: AVATAR_MAX_BYTES,
      kind: 'raw',
      tooLarge: {
        code: AvatarErrorCode.AVATAR_TOO_LARGE,
        message: `The image is larger than ${AVATAR_MAX_BYTES / (1024 * 1024)} MB`,
      },
    },
    reasonStatus: AVATAR_ERROR_STATUS,
    async handle({ method, principal: viewer, body }) {
      if (method === 'DELETE') {
        await avatars.remove(viewer.userId);
        return { status: 204, empty: true };
      }
      const avatar = await avatars.upload(viewer.userId, body ?? Buffer.alloc(0));
      return { status: 200, json: { avatar } };
    },
  });
}
