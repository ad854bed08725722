export { APOLLO_CLIENT_ERROR_CODES, ErrorCode, HTTP_STATUS_BY_ERROR_CODE, isErrorCode } from './error-codes';
export {
  AppError,
  AuthenticationError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitError,
  ServiceUnavailableError,
  ValidationError,
  assertThat,
  forbidden,
  isAppError,
  unauthenticated,
  type AppErrorOptions,
  type FieldIssue,
  type ZodErrorLike,
} from './app-error';
export { fromPrismaError, isPrismaKnownRequestError } from './prisma';
export {
  formatGraphQLError,
  toGraphQLError,
  type ErrorLogger,
  type FormatGraphQLErrorOptions,
} from './graphql';
