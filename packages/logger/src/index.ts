export {
  childForRequest,
  createLogger,
  type CreateLoggerOptions,
  type LogLevel,
  type Logger,
} from './logger';
export { currentLogContext, runWithLogContext, type LogContextFields } from './log-context';
export { REDACTED, isSecretKey, redactSecrets } from './redact';
export { REQUEST_ID_HEADER, requestIdFrom, type HeaderSource } from './request-id';
