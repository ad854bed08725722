/**
 * Stable, client-facing error codes (`extensions.code` in GraphQL responses).
 * Clients switch on these, so never rename or remove one; add new codes instead.
 */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** A plan limit (usage quota) would be exceeded; `details.retryAfterSeconds` says when the period resets. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** A charge was declined or could not be collected (billing). */
  PAYMENT_FAILED: 'PAYMENT_FAILED',
  /** The payment method cannot be removed: it is the only one of a live subscription (billing). */
  PAYMENT_METHOD_IN_USE: 'PAYMENT_METHOD_IN_USE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status a plain REST route answers for each code (GraphQL answers 200 with `extensions.code`). */
export const HTTP_STATUS_BY_ERROR_CODE: Readonly<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  QUOTA_EXCEEDED: 429,
  PAYMENT_FAILED: 402,
  PAYMENT_METHOD_IN_USE: 409,
};

/**
 * Codes Apollo Server assigns to request errors caused by the client (see `ApolloServerErrorCode`
 * in `@apollo/server/errors`). Their messages describe the client's own request, so they are safe to return.
 */
export const APOLLO_CLIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

const errorCodes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && errorCodes.has(value);
}
