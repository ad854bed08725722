import { ErrorCode } from './error-codes';

export interface AppErrorOptions {
  /** JSON-serialisable data that is safe to show to clients (returned as `extensions.details`). */
  details?: unknown;
  /** The underlying error; kept for logs, never sent to clients. */
  cause?: unknown;
}

/**
 * Base class of every failure the platform reports to clients on purpose. Its `message` and `details` are
 * returned to the client as-is, so they must never contain secrets, SQL or internal identifiers.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.details !== undefined) this.details = options.details;
  }
}

/** One invalid field: where it is (dot path, '' for the whole input) and what is wrong, never the value. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** The part of a `ZodError` we read; structural so this package does not depend on zod. */
export interface ZodErrorLike {
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>;
}

export class ValidationError extends AppError {
  declare readonly details?: FieldIssue[];

  constructor(message = 'Invalid input', options: AppErrorOptions & { details?: FieldIssue[] } = {}) {
    super(ErrorCode.BAD_USER_INPUT, message, options);
  }

  /** Lists each failing field path and message; the offending input values are deliberately left out. */
  static fromZod(error: ZodErrorLike, message = 'Invalid input'): ValidationError {
    const details = error.issues.map((issue) => ({
      path: issue.path.map((segment) => String(segment)).join('.'),
      message: issue.message,
    }));
    return new ValidationError(message, { details, cause: error });
  }
}

export class AuthenticationError extends AppError {
  constructor(message = 'Authentication required', options?: AppErrorOptions) {
    super(ErrorCode.UNAUTHENTICATED, message, options);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'Forbidden', options?: AppErrorOptions) {
    super(ErrorCode.FORBIDDEN, message, options);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'Not found', options?: AppErrorOptions) {
    super(ErrorCode.NOT_FOUND, message, options);
  }
}

export class ConflictError extends AppError {
  constructor(message = 'Already exists', options?: AppErrorOptions) {
    super(ErrorCode.CONFLICT, message, options);
  }
}

export class RateLimitError extends AppError {
  declare readonly details?: { retryAfterSeconds: number };

  constructor(
    message = 'Too many requests',
    options: Omit<AppErrorOptions, 'details'> & { retryAfterSeconds?: number } = {},
  ) {
    const { retryAfterSeconds, cause } = options;
    super(ErrorCode.RATE_LIMITED, message, {
      cause,
      details: retryAfterSeconds === undefined ? undefined : { retryAfterSeconds },
    });
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message = 'Service unavailable', options?: AppErrorOptions) {
    super(ErrorCode.SERVICE_UNAVAILABLE, message, options);
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/**
 * For graphql-shield's `fallbackError`: without it a denied rule throws a bare `Error('Not Authorised!')`,
 * which formatGraphQLError would mask as an internal error.
 */
export function forbidden(message?: string): ForbiddenError {
  return new ForbiddenError(message);
}

/** See {@link forbidden}; use when the request carries no valid identity. */
export function unauthenticated(message?: string): AuthenticationError {
  return new AuthenticationError(message);
}

/**
 * Guard clause: throws unless `condition` is truthy. Pass a factory (`() => new NotFoundError()`) to avoid
 * building the error on the happy path.
 *
 * @example assertThat(user, () => new NotFoundError('User not found'));
 */
export function assertThat(condition: unknown, error: Error | (() => Error)): asserts condition {
  if (!condition) throw typeof error === 'function' ? error() : error;
}
