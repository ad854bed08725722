import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { constantTimeEqual } from '@gatehouse/crypto';
import { ValidationError } from '@gatehouse/errors';
import type { Logger } from '@gatehouse/logger';
import { bearerTokenFrom, createRestRoute, isUuid, RestError, type RouteHandler } from '@gatehouse/service';
import { looksLikeApiKey, type ApiKeyService } from '../api-keys';
import type { UsageService } from './usage.service';

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

  /** null: 401. A malformed header (bearerTokenFrom's AuthenticationError) is a 401 as well (the skeleton's rule). */
  async function authenticate(req: IncomingMessage): Promise<Principal | null> {
    const token = bearerTokenFrom(req.headers.authorization);
    if (token === undefined) return null;
    if (looksLikeApiKey(token)) {
      const key = await apiKeys.verify(token);
      if (!key) return null;
      if (!key.scopes.includes(USAGE_WRITE_SCOPE)) {
        throw new RestError(
          403,
          UsageRouteErrorCode.INSUFFICIENT_SCOPE,
          `The API key lacks the ${USAGE_WRITE_SCOPE} scope`,
          {
            headers: {
              'www-authenticate': `Bearer error="insufficient_scope", scope="${USAGE_WRITE_SCOPE}"`,
            },
          },
        );
      }
      return { kind: 'apiKey', userId: key.userId };
    }
    if (serviceToken !== undefined && serviceToken !== '' && constantTimeEqual(token, serviceToken)) {
      return { kind: 'service' };
    }
    return null;
  }

  return createRestRoute<Principal>({
    name: 'usage report',
    path: routePath,
    methods: ['POST'],
    logger: options.logger,
    authenticate: { principal: authenticate, message: 'A valid API key is required' },
    body: {
      maxBytes: USAGE_MAX_BODY_BYTES,
      kind: 'json',
      tooLarge: {
        code: UsageRouteErrorCode.PAYLOAD_TOO_LARGE,
        message: `The body is larger than ${USAGE_MAX_BODY_BYTES} bytes`,
      },
      unsupportedMediaTypeMessage: 'Send the report as application/json',
    },
    async handle({ req, principal, json }) {
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
      return { status: 200, json: { ...report, resetsAt: report.resetsAt.toISOString() } };
    },
  });
}
