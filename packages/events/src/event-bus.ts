/**
 * Publish/subscribe between services (and into GraphQL subscriptions).
 *
 * Delivery is at-most-once and only to subscribers connected at publish time: use it for notifications
 * ("session revoked", "plan changed"), and the job queue for work that must not be lost.
 * Payloads travel as JSON in every implementation, so subscribers receive `JSON.parse(JSON.stringify(payload))`:
 * Dates arrive as ISO strings, `undefined` fields disappear, and each subscriber gets its own copy.
 */
export interface EventBus {
  /** Resolves once the event is handed to the transport (not when subscribers have handled it). */
  publish<T>(topic: string, payload: T): Promise<void>;
  /**
   * Calls `handler` for every event published on `topic` after the returned promise resolves.
   * A handler that throws or rejects is reported through the bus's error reporter; it never affects other
   * handlers or the bus.
   * @returns a function that stops delivery immediately (idempotent).
   */
  subscribe<T>(topic: string, handler: EventHandler<T>): Promise<Unsubscribe>;
  /**
   * Events of one or more topics as an async iterator, for GraphQL subscription resolvers.
   * Subscribes on creation (await `ready` to know when); `return()` unsubscribes. Closing the bus ends it.
   */
  asyncIterableIterator<T>(topics: string | readonly string[]): EventIterator<T>;
  /** Resolves when the transport is reachable; rejects otherwise (used by health checks). */
  ping(): Promise<void>;
  /** Ends open iterators, drops subscriptions and releases connections. Idempotent. */
  close(): Promise<void>;
}

export type EventHandler<T> = (payload: T) => void | Promise<void>;

export type Unsubscribe = () => Promise<void>;

export interface EventIterator<T> extends AsyncIterableIterator<T> {
  /** Resolves once every topic is subscribed; rejects when subscribing failed. */
  readonly ready: Promise<void>;
}

/** The part of a pino logger this package uses. */
export interface EventBusLogger {
  error(details: object, message: string): void;
}

/** Where failures that have no caller to reject are reported. */
export type EventBusErrorReporter = (error: unknown, context: { topic: string }) => void;

export interface EventBusReportingOptions {
  /**
   * Receives handler failures, undecodable messages, iterator overflows and (topic `(connection)`) Redis
   * connection errors. Takes precedence over `logger`.
   */
  onError?: EventBusErrorReporter;
  /** Used when `onError` is not given. Without either, failures go to console.error. */
  logger?: EventBusLogger;
}

export function errorReporter({ onError, logger }: EventBusReportingOptions): EventBusErrorReporter {
  if (onError) return onError;
  if (logger)
    return (error, { topic }) => logger.error({ err: error, topic }, 'event bus: event not delivered');
  return (error, { topic }) => console.error(`event bus: event on "${topic}" not delivered`, error);
}

/** The wire format of both implementations. Throws for payloads JSON cannot represent. */
export function encodePayload(topic: string, payload: unknown): string {
  const json = JSON.stringify(payload);
  if (json === undefined) throw new TypeError(`event payload for "${topic}" is not JSON-serialisable`);
  return json;
}

/** Decodes a message and runs a handler without letting it throw into the transport. */
export function deliver<T>(
  topic: string,
  message: string,
  handler: EventHandler<T>,
  report: EventBusErrorReporter,
): void {
  try {
    const result = handler(JSON.parse(message) as T);
    if (result instanceof Promise) result.catch((error: unknown) => report(error, { topic }));
  } catch (error) {
    report(error, { topic });
  }
}
