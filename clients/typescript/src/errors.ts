import type { GraphQLFormattedError } from 'graphql';
import { ERROR_CODES, type ErrorCode, type ErrorReason } from './generated/error-codes.js';

export type { ErrorCode, ErrorReason };

const knownCodes: ReadonlySet<string> = new Set<string>(ERROR_CODES);

/** Whether `value` is one of the codes the API's operations can return. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && knownCodes.has(value);
}

export interface GatehouseErrorOptions {
  operationName?: string;
  /** HTTP status of the answer (200 for most GraphQL errors; 401, 429, 503 for the gateway's refusals). */
  status?: number;
  /** Every error of the answer; `code`, `reason` and `details` are the first one's. */
  errors?: readonly GraphQLFormattedError[];
  /** Partial data that came with the errors, if any. */
  data?: unknown;
  /** The raw `Retry-After` header, when the answer had one. */
  retryAfter?: string;
  cause?: unknown;
}

function detailsOf(extensions: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const details = extensions?.details;
  return typeof details === 'object' && details !== null && !Array.isArray(details)
    ? (details as Record<string, unknown>)
    : undefined;
}

/**
 * The API answered, with an error: switch on `code` (`extensions.code`, e.g. `UNAUTHENTICATED`) and, where
 * the API gives one, `reason` (`extensions.details.reason`, e.g. `REFRESH_TOKEN_REUSED`).
 */
export class GatehouseError extends Error {
  override readonly name = 'GatehouseError';
  /**
   * The machine-readable code. A code this client version does not know (a newer server) is kept in
   * `rawCode`, and `code` is `INTERNAL_SERVER_ERROR` then, so a `switch` over `code` stays exhaustive.
   */
  readonly code: ErrorCode;
  /** `extensions.code` exactly as the server sent it (undefined when it sent none). */
  readonly rawCode: string | undefined;
  /** `extensions.details.reason`, the finer-grained, stable cause (`INVALID_CREDENTIALS`, `SESSION_REVOKED`). */
  readonly reason: ErrorReason | (string & {}) | undefined;
  /** `extensions.details`: safe-to-show data such as `retryAfterSeconds` or `fieldErrors`. */
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly operationName: string | undefined;
  readonly status: number | undefined;
  readonly errors: readonly GraphQLFormattedError[];
  readonly data: unknown;
  readonly retryAfter: string | undefined;

  constructor(message: string, code: string | undefined, options: GatehouseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.rawCode = code;
    this.code = isErrorCode(code) ? code : 'INTERNAL_SERVER_ERROR';
    const first = options.errors?.[0];
    const details = detailsOf(first?.extensions);
    this.details = details;
    this.reason = typeof details?.reason === 'string' ? details.reason : undefined;
    this.operationName = options.operationName;
    this.status = options.status;
    this.errors = options.errors ?? [];
    this.data = options.data;
    this.retryAfter = options.retryAfter;
  }

  /** An error the client raises itself in the API's shape (e.g. UNAUTHENTICATED `NO_SESSION` before any request). */
  static create(
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options: Omit<GatehouseErrorOptions, 'errors'> = {},
  ): GatehouseError {
    const extensions = details === undefined ? { code } : { code, details };
    return new GatehouseError(message, code, { ...options, errors: [{ message, extensions }] });
  }

  /** The error for a GraphQL response's `errors` (the first one decides the code). */
  static fromGraphQLErrors(
    errors: readonly GraphQLFormattedError[],
    options: Omit<GatehouseErrorOptions, 'errors'> = {},
  ): GatehouseError {
    const first = errors[0];
    const code = first?.extensions?.code;
    return new GatehouseError(
      first?.message ?? 'Unknown error',
      typeof code === 'string' ? code : undefined,
      {
        ...options,
        errors,
      },
    );
  }
}

export interface NetworkErrorOptions {
  operationName?: string;
  /** The HTTP status, when a response came but held no GraphQL answer (a 502 page, an empty 503). */
  status?: number;
  retryAfter?: string;
  cause?: unknown;
}

/**
 * No usable answer from the API: the connection failed, timed out, or the response was not GraphQL. Distinct
 * from {@link GatehouseError}: the operation may or may not have run on the server.
 */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  readonly operationName: string | undefined;
  readonly status: number | undefined;
  readonly retryAfter: string | undefined;

  constructor(message: string, options: NetworkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.operationName = options.operationName;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }
}

export function isGatehouseError(error: unknown): error is GatehouseError {
  return error instanceof GatehouseError;
}

export function isNetworkError(error: unknown): error is NetworkError {
  return error instanceof NetworkError;
}
