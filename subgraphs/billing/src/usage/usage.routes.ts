import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { constantTimeEqual } from '@gatehouse/crypto';
import {
  AppError,
  AuthenticationError,
  ErrorCode,
  ValidationError,
  HTTP_STATUS_BY_ERROR_CODE,
} from '@gatehouse/errors';
import { childForRequest, type Logger } from '@gatehouse/logger';
import { bearerTokenFrom, isUuid, readBodyUpTo, sendJson, type RouteHandler } from '@gatehouse/service';
import { looksLikeApiKey, type ApiKeyService } from '../api-keys';
import type { UsageService } from './usage.service';
import { QuotaExceededError } from './usage.errors';

/** Where usage reports are accepted (the gateway forwards the same path). */
export const USAGE_ROUTE_PATH = '/billing/usage';

/** Largest accepted request body: a report is a few dozen bytes. */
export const USAGE_MAX_BODY_BYTES = 4 * 1024;

/** Scope an API key needs to report usage. */
export const USAGE_WRITE_SCOPE = 'usage:write';

/**
 * `error` values of the endpoint's JSON error bodies besides the AppError codes and usage reasons
 * (QUOTA_EXCEEDED, NO_SUBSCRIPTION, UNKNOWN_METRIC, IDEMPOTENCY_KEY_REUSED, BAD_USER_INPUT, ...). Stable.
 */
export const UsageRouteErrorCode = {
  /** 401: no `Authorization: Bearer` credential, or it is unknown, wrong, revoked or expired. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** 403: the API key lacks the `usage:write` scope. */
  INSUFFICIENT_SCOPE: 'INSUFFICIENT_SCOPE',
  /** 405: only POST is served. */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** 413: the body is larger than {@link USAGE_MAX_BODY_BYTES}. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** 415: the body is not `application/json`. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** 500: something failed on our side; `x-request-id` finds it in the logs. */
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

export interface UsageRoutesOptions {
  usage: Pick<UsageService, 'recordUsage'>;
  apiKeys: Pick<ApiKeyService, 'verify'>;
  logger: Logger;
  /**
   * Shared secret of Gatehouse's own services (compared in constant time). A service names the user in the body
   * (`userId`). Unset: only API keys are accepted.
   */
  serviceToken?: string;
  /** Default {@link USAGE_ROUTE_PATH}. */
  path?: string;
}

/** Who reports: a customer's server (API key, usage of its owner) or one of our services (any user). */
type Principal = { kind: 'apiKey'; userId: string } | { kind: 'service' };

/** Sent when the body was not (fully) read, so its rest is never taken for the next request. */
const CLOSE = { connection: 'close' } as const;

const apiKeyBodySchema = z
  .object({
    metric: z.string(),
    quantity: z.number(),
    idempotencyKey: z.string().optional(),
  })
  .strict();
const serviceBodySchema = apiKeyBodySchema.extend({
  userId: z.string().refine(isUuid, 'Must be a user id'),
});

function isJsonContentType(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

/**
 * REST endpoint for servers reporting metered usage:
 *
 * `POST /billing/usage` with `Authorization: Bearer gh_<prefix>_<secret>` (an API key with the `usage:write`
 * scope) and a JSON body `{ metric, quantity, idempotencyKey? }` (at most 4 KiB). The idempotency key may also
 * come as the `Idempotency-Key` header. Gatehouse services may instead present the service token and add
 * `userId` to the body.
 *
 * 200 `{ metric, used, limit, remaining, resetsAt, replayed }` (`limit`/`remaining` null = unlimited).
 * Errors are JSON `{ error, message, details? }`: 400 `BAD_USER_INPUT` (malformed JSON, unknown field, invalid
 * value; `details` lists the fields) or `UNKNOWN_METRIC`; 401 `UNAUTHENTICATED` (with `WWW-Authenticate`);
 * 403 `INSUFFICIENT_SCOPE` or `NO_SUBSCRIPTION`; 405; 409 `IDEMPOTENCY_KEY_REUSED`; 413; 415;
 * 429 `QUOTA_EXCEEDED` with `Retry-After` (seconds until the period resets) and `details.resetsAt`;
 * 503 `SERVICE_UNAVAILABLE` (the counter store is down: nothing was counted, retry later); 500.
 * Authentication happens before any of the body is read.
 */
export function createUsageRoutes(options: UsageRoutesOptions): RouteHandler {
  const { usage, apiKeys, serviceToken } = options;
  const routePath = options.path ?? USAGE_ROUTE_PATH;

  async function authenticate(req: IncomingMessage): Promise<Principal | 'insufficient_scope' | null> {
    let token: string | undefined;
    try {
      token = bearerTokenFrom(req.headers.authorization);
    } catch (error) {
      if (error instanceof AuthenticationError) return null;
      throw error;
    }
    if (token === undefined) return null;
    if (looksLikeApiKey(token)) {
      const key = await apiKeys.verify(token);
      if (!key) return null;
      if (!key.scopes.includes(USAGE_WRITE_SCOPE)) return 'insufficient_scope';
      return { kind: 'apiKey', userId: key.userId };
    }
    if (serviceToken !== undefined && serviceToken !== '' && constantTimeEqual(token, serviceToken)) {
      return { kind: 'service' };
    }
    return null;
  }

  function sendError(error: unknown, res: ServerResponse, logger: Logger): void {
    // An internal error is logged and answered generically below, whatever its message.
    const status =
      error instanceof AppError && error.code !== ErrorCode.INTERNAL_SERVER_ERROR
        ? HTTP_STATUS_BY_ERROR_CODE[error.code]
        : undefined;
    if (error instanceof AppError && status !== undefined) {
      const details = error.details as { reason?: unknown } | undefined;
      const reason = details && !Array.isArray(details) ? details.reason : undefined;
      const headers: Record<string, string> =
        error instanceof QuotaExceededError ? { 'retry-after': String(error.retryAfterSeconds) } : {};
      if (error.code === ErrorCode.SERVICE_UNAVAILABLE) headers['retry-after'] = '1';
      sendJson(
        res,
        status,
        {
          error: typeof reason === 'string' ? reason : error.code,
          message: error.message,
          ...(error.details === undefined ? {} : { details: error.details }),
        },
        headers,
      );
      return;
    }
    logger.error({ err: error }, 'usage report failed');
    sendJson(res, 500, {
      error: UsageRouteErrorCode.INTERNAL_SERVER_ERROR,
      message: 'Internal server error',
    });
  }

  return async (req, res, requestId) => {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    if ((queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart)) !== routePath) return false;
    const logger = childForRequest(options.logger, requestId);

    try {
      if (req.method !== 'POST') {
        sendJson(
          res,
          405,
          { error: UsageRouteErrorCode.METHOD_NOT_ALLOWED, message: 'Method not allowed' },
          { allow: 'POST', ...CLOSE },
        );
        return true;
      }

      const principal = await authenticate(req);
      if (principal === null) {
        const challenge = req.headers.authorization === undefined ? 'Bearer' : 'Bearer error="invalid_token"';
        sendJson(
          res,
          401,
          { error: UsageRouteErrorCode.UNAUTHENTICATED, message: 'A valid API key is required' },
          { 'www-authenticate': challenge, ...CLOSE },
        );
        return true;
      }
      if (principal === 'insufficient_scope') {
        sendJson(
          res,
          403,
          {
            error: UsageRouteErrorCode.INSUFFICIENT_SCOPE,
            message: `The API key lacks the ${USAGE_WRITE_SCOPE} scope`,
          },
          { 'www-authenticate': `Bearer error="insufficient_scope", scope="${USAGE_WRITE_SCOPE}"`, ...CLOSE },
        );
        return true;
      }

      if (!isJsonContentType(req.headers['content-type'])) {
        sendJson(
          res,
          415,
          {
            error: UsageRouteErrorCode.UNSUPPORTED_MEDIA_TYPE,
            message: 'Send the report as application/json',
          },
          CLOSE,
        );
        return true;
      }
      const tooLarge = () =>
        sendJson(
          res,
          413,
          {
            error: UsageRouteErrorCode.PAYLOAD_TOO_LARGE,
            message: `The body is larger than ${USAGE_MAX_BODY_BYTES} bytes`,
          },
          CLOSE,
        );
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > USAGE_MAX_BODY_BYTES) {
        tooLarge();
        return true;
      }
      const raw = await readBodyUpTo(req, USAGE_MAX_BODY_BYTES);
      if (raw === null) {
        tooLarge();
        return true;
      }

      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new ValidationError('Malformed JSON body');
      }
      const schema = principal.kind === 'service' ? serviceBodySchema : apiKeyBodySchema;
      const parsed = schema.safeParse(json);
      if (!parsed.success) throw ValidationError.fromZod(parsed.error);
      const body = parsed.data as z.infer<typeof serviceBodySchema> | z.infer<typeof apiKeyBodySchema>;

      const header = req.headers['idempotency-key'];
      const headerKey = Array.isArray(header) ? header[0] : header;
      if (headerKey !== undefined && body.idempotencyKey !== undefined && headerKey !== body.idempotencyKey) {
        throw new ValidationError('Invalid input', {
          details: [{ path: 'idempotencyKey', message: 'Differs from the Idempotency-Key header' }],
        });
      }

      const report = await usage.recordUsage({
        userId:
          principal.kind === 'apiKey' ? principal.userId : (body as z.infer<typeof serviceBodySchema>).userId,
        metric: body.metric,
        quantity: body.quantity,
        idempotencyKey: body.idempotencyKey ?? headerKey,
      });
      sendJson(res, 200, { ...report, resetsAt: report.resetsAt.toISOString() });
      return true;
    } catch (error) {
      if (res.headersSent || req.socket.destroyed) {
        logger.warn({ err: error }, 'usage request ended without a response');
        res.destroy();
        return true;
      }
      sendError(error, res, logger);
      return true;
    }
  };
}
