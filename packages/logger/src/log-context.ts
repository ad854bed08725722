import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields added to every log line written while a scope is active (e.g. `{ traceId, spanId }`). */
export type LogContextFields = Readonly<Record<string, string>>;

/**
 * The fields of the scope the current async call chain runs in. One storage for the process: the root start
 * script runs every service in one process, and each request runs in its own scope.
 */
const storage = new AsyncLocalStorage<LogContextFields>();

/**
 * Runs `fn` with `fields` on every line any logger writes from it and from everything it awaits, including
 * loggers that know nothing about the request (Apollo's, the error formatter's, a repository's). That is what
 * puts the trace id on every line of a request without threading a child logger through every call. Nested
 * scopes replace the outer fields rather than merging, so a scope always says exactly what it was given.
 */
export function runWithLogContext<T>(fields: LogContextFields, fn: () => T): T {
  return storage.run(fields, fn);
}

/** The fields of the active scope, or `undefined` outside any scope. */
export function currentLogContext(): LogContextFields | undefined {
  return storage.getStore();
}
