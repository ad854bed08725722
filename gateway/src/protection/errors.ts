import { HeaderMap } from '@apollo/server';
import { ErrorCode } from '@gatehouse/errors';
import { GraphQLError } from 'graphql';

/**
 * The gateway's refusals, as GraphQLErrors Apollo answers with the given HTTP status (its `extensions.http`,
 * which formatGraphQLError strips from the body). Codes are the platform's stable ones; where a code alone
 * does not say what to fix, `details.reason` does (stable too: clients may switch on it).
 */

/** Why a query was refused before execution (`details.reason` of a BAD_USER_INPUT, HTTP 400). */
export const QueryRefusal = {
  QUERY_TOO_DEEP: 'QUERY_TOO_DEEP',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  TOO_MANY_ALIASES: 'TOO_MANY_ALIASES',
  TOO_MANY_DIRECTIVES: 'TOO_MANY_DIRECTIVES',
  TOO_MANY_ROOT_FIELDS: 'TOO_MANY_ROOT_FIELDS',
  /** GRAPHQL_TRUSTED_ONLY: the document is not in the trusted-documents manifest. */
  DOCUMENT_NOT_TRUSTED: 'DOCUMENT_NOT_TRUSTED',
} as const;
export type QueryRefusal = (typeof QueryRefusal)[keyof typeof QueryRefusal];

/** Why a cookie-carrying request was refused (`details.reason` of a FORBIDDEN, HTTP 403). */
export const CsrfRefusal = {
  CSRF_TOKEN_MISSING: 'CSRF_TOKEN_MISSING',
  CSRF_TOKEN_MISMATCH: 'CSRF_TOKEN_MISMATCH',
} as const;
export type CsrfRefusal = (typeof CsrfRefusal)[keyof typeof CsrfRefusal];

export function queryRefused(
  reason: QueryRefusal,
  message: string,
  limits?: { limit: number; actual: number },
): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCode.BAD_USER_INPUT,
      details: { reason, ...limits },
      http: { status: 400, headers: new HeaderMap() },
    },
  });
}

/** 401 before any subgraph is called. The message never says which check failed. */
export function unauthenticated(): GraphQLError {
  return new GraphQLError('Invalid or expired access token', {
    extensions: {
      code: ErrorCode.UNAUTHENTICATED,
      http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer error="invalid_token"']]) },
    },
  });
}

/** 429 with Retry-After (whole seconds, at least 1). */
export function rateLimited(retryAfterSeconds: number): GraphQLError {
  return new GraphQLError('Too many requests', {
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      details: { retryAfterSeconds },
      http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) },
    },
  });
}

/** 403: a cookie-carrying state change without the matching double-submit token. */
export function csrfRefused(reason: CsrfRefusal): GraphQLError {
  return new GraphQLError('Missing or invalid CSRF token', {
    extensions: {
      code: ErrorCode.FORBIDDEN,
      details: { reason },
      http: { status: 403, headers: new HeaderMap() },
    },
  });
}

/** 503: the request took longer than REQUEST_TIMEOUT_MS. */
export function requestTimedOut(): GraphQLError {
  return new GraphQLError('The request took too long', {
    extensions: {
      code: ErrorCode.SERVICE_UNAVAILABLE,
      details: { reason: 'REQUEST_TIMEOUT' },
      http: { status: 503, headers: new HeaderMap() },
    },
  });
}
