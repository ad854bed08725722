import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError } from './app-error';
import { APOLLO_CLIENT_ERROR_CODES, ErrorCode, isErrorCode } from './error-codes';
import { fromPrismaError } from './prisma';

/** The slice of a pino logger we need; structural so this package does not depend on @gatehouse/logger. */
export interface ErrorLogger {
  error(object: object, message: string): void;
}

export interface FormatGraphQLErrorOptions {
  /** Receives every error that is masked, with the original error as `err`. */
  logger?: ErrorLogger;
}

const INTERNAL_MESSAGE = 'Internal server error';

type Classified =
  | { kind: 'app'; error: AppError }
  | { kind: 'graphql'; error: GraphQLError; code: string }
  | { kind: 'unknown'; error: unknown };

/**
 * Finds what the client may see. Walks from the outside in, because Apollo wraps client errors (e.g.
 * variable coercion failures) in a coded GraphQLError around an uncoded original, while graphql-js wraps
 * resolver errors in an uncoded GraphQLError carrying a path.
 */
function classify(error: unknown): Classified {
  let current: unknown = error;
  for (let depth = 0; depth < 10; depth += 1) {
    if (current instanceof AppError) return { kind: 'app', error: current };
    const fromPrisma = fromPrismaError(current);
    if (fromPrisma) return { kind: 'app', error: fromPrisma };
    if (!(current instanceof GraphQLError)) break;
    const code = current.extensions.code;
    if (typeof code === 'string' && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      if (APOLLO_CLIENT_ERROR_CODES.has(code) || isErrorCode(code)) {
        return { kind: 'graphql', error: current, code };
      }
    }
    if (current.originalError === undefined || current.originalError === current) break;
    current = current.originalError;
  }
  return { kind: 'unknown', error: current };
}

function appErrorExtensions(error: AppError): Record<string, unknown> {
  return error.details === undefined ? { code: error.code } : { code: error.code, details: error.details };
}

/**
 * Turns anything thrown into a GraphQLError that is safe to return: AppErrors (and mapped Prisma errors)
 * keep their code, message and details; unknown errors become INTERNAL_SERVER_ERROR "Internal server error".
 * The original is kept as `originalError` for logging.
 */
export function toGraphQLError(error: unknown): GraphQLError {
  const classified = classify(error);
  switch (classified.kind) {
    case 'app':
      return new GraphQLError(classified.error.message, {
        originalError: classified.error,
        extensions: appErrorExtensions(classified.error),
      });
    case 'graphql':
      return classified.error;
    case 'unknown':
      return new GraphQLError(INTERNAL_MESSAGE, {
        originalError: error instanceof Error ? error : undefined,
        extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
      });
  }
}

function withoutInternalExtensions(extensions: Readonly<Record<string, unknown>> | undefined) {
  // `stacktrace` (Apollo 4+) and `exception` (Apollo 2/3, some gateways) carry stack traces and internals;
  // `http` is Apollo's instruction for the response status and headers, not part of the body.
  const { stacktrace: _stacktrace, exception: _exception, http: _http, ...rest } = extensions ?? {};
  return rest;
}

function located(formatted: GraphQLFormattedError, message: string, extensions: Record<string, unknown>) {
  const result: GraphQLFormattedError = { message };
  if (formatted.locations) Object.assign(result, { locations: formatted.locations });
  if (formatted.path) Object.assign(result, { path: formatted.path });
  return { ...result, extensions };
}

/**
 * Apollo Server `formatError`: `formatError: (formatted, error) => formatGraphQLError(formatted, error, { logger })`.
 *
 * - AppErrors: their code, message and details.
 * - Prisma known request errors: P2002 → CONFLICT, P2025 → NOT_FOUND, without meta or SQL.
 * - GraphQLErrors coded with an Apollo client code (parse/validation/bad input...) or one of our codes: passed through.
 * - Anything else: logged, then masked as INTERNAL_SERVER_ERROR "Internal server error".
 * `stacktrace` and `exception` extensions are always removed.
 */
export function formatGraphQLError(
  formatted: GraphQLFormattedError,
  error: unknown,
  options: FormatGraphQLErrorOptions = {},
): GraphQLFormattedError {
  const classified = classify(error);
  switch (classified.kind) {
    case 'app':
      return located(formatted, classified.error.message, appErrorExtensions(classified.error));
    case 'graphql':
      // `formatted` already holds the extensions Apollo kept from this error (or from the resolver wrapper,
      // which copies them from the error it wraps).
      return located(formatted, formatted.message, {
        ...withoutInternalExtensions(formatted.extensions),
        code: classified.code,
      });
    case 'unknown':
      options.logger?.error(
        { err: classified.error, path: formatted.path },
        'Unexpected error while executing a GraphQL operation',
      );
      return located(formatted, INTERNAL_MESSAGE, { code: ErrorCode.INTERNAL_SERVER_ERROR });
  }
}
