import { hostname } from 'node:os';
import { pino, type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import { currentLogContext } from './log-context';
import { REDACTED, redactSecrets } from './redact';

export type { Logger };
export type LogLevel = LevelWithSilent;

export interface CreateLoggerOptions {
  /** Service or component name, logged as `service` on every line. */
  name: string;
  /** Minimum level; defaults to `info`. */
  level?: LogLevel;
  /** Where JSON lines go; defaults to stdout. Tests pass a stream to read the output back. */
  destination?: DestinationStream;
}

/**
 * Secret fields at any depth of logged objects and bindings are censored by `redactSecrets` (pino's own
 * `redact` wildcards only match one level). These paths also cover what serializers produce after that step.
 */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'err.config.headers.authorization',
  'err.config.headers.Authorization',
];

/**
 * JSON logger: ISO timestamps, textual levels, `service` on every line, secrets redacted, and the fields of the
 * active log context (`traceId`, `spanId` of the request being served; see `runWithLogContext`) on every line.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: options.name, pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A copy each time: pino merges the logged object into what the mixin returns (a field of the logged
      // object wins), and the scope's fields are shared by every line of the request.
      mixin: () => ({ ...currentLogContext() }),
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => redactSecrets(bindings),
        log: (object) => redactSecrets(object),
      },
    },
    options.destination,
  );
  // pino applies `formatters.bindings` to the root's bindings only and serializes child bindings at once, so
  // children are redacted here. Descendants inherit this property through their prototype chain; `this` keeps
  // each child's own bindings.
  const pinoChild = logger.child;
  logger.child = function child(this: Logger, bindings, childOptions) {
    return pinoChild.call(this, redactSecrets(bindings), childOptions);
  } as Logger['child'];
  return logger;
}

/** Child logger whose lines all carry `requestId`. */
export function childForRequest(logger: Logger, requestId: string): Logger {
  return logger.child({ requestId });
}
