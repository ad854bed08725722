/** The slice of a pino logger this package uses; a `@gatehouse/logger` Logger satisfies it. */
export interface DbLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLogger: DbLogger = { info: () => undefined, warn: () => undefined };
