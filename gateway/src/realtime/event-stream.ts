import type { EventBus, Unsubscribe } from '@gatehouse/events';

/** Events waiting for a slow socket; beyond this the oldest are dropped (delivery is at-most-once anyway). */
export const MAX_PENDING_EVENTS = 100;

export interface EventStreamOptions<T> {
  bus: Pick<EventBus, 'subscribe'>;
  topics: readonly string[];
  /** Turns a bus message into what the client receives, or undefined to skip it (not the viewer's, malformed). */
  select: (topic: string, payload: unknown) => T | undefined;
  /**
   * Called with the previous item when the consumer asks for the next one. graphql-ws asks only after it has
   * sent the previous result, so this is "after delivery": return true to end the stream there.
   */
  afterDelivered?: (item: T) => boolean;
  /** Events dropped because the consumer fell behind. */
  onOverflow?: () => void;
  /** Called once when the stream ends (the client completed it, the socket closed, or `afterDelivered`). */
  onFinish?: () => void;
}

/**
 * The events of several topics as one async iterator, for a subscription resolver. Unlike the bus's own
 * `asyncIterableIterator` it knows each event's topic (identity's MFA payloads do not name their type), and it
 * filters before buffering, so another user's events never occupy a viewer's buffer.
 *
 * A class rather than an async generator: `return()` on a generator waiting for the next event would itself
 * wait for that event, leaving the bus subscription (and the client's `complete`) hanging until then.
 */
export class EventStream<T> implements AsyncIterableIterator<T> {
  /** Resolves once every topic is subscribed. */
  readonly ready: Promise<void>;
  private readonly pending: T[] = [];
  private readonly waiting: ((result: IteratorResult<T>) => void)[] = [];
  private readonly subscriptions: Promise<Unsubscribe[]>;
  private delivered: T | undefined;
  private finished = false;

  constructor(private readonly options: EventStreamOptions<T>) {
    this.subscriptions = Promise.all(
      [...new Set(options.topics)].map((topic) =>
        options.bus.subscribe(topic, (payload) => this.push(options.select(topic, payload))),
      ),
    );
    this.ready = this.subscriptions.then(() => undefined);
    // A failed subscription surfaces through next(); never as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  async next(): Promise<IteratorResult<T>> {
    const previous = this.delivered;
    this.delivered = undefined;
    if (previous !== undefined && this.options.afterDelivered?.(previous)) return this.return();
    if (this.finished) return { value: undefined, done: true };
    await this.ready;
    const item = this.pending.shift();
    if (item !== undefined) {
      this.delivered = item;
      return { value: item, done: false };
    }
    if (this.finished) return { value: undefined, done: true };
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async return(): Promise<IteratorResult<T>> {
    if (!this.finished) {
      this.finished = true;
      this.options.onFinish?.();
      for (const resolve of this.waiting.splice(0)) resolve({ value: undefined, done: true });
      this.pending.length = 0;
      const unsubscribes = await this.subscriptions.catch(() => []);
      await Promise.all(unsubscribes.map((unsubscribe) => unsubscribe()));
    }
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private push(item: T | undefined): void {
    if (item === undefined || this.finished) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      this.delivered = item;
      waiter({ value: item, done: false });
      return;
    }
    this.pending.push(item);
    if (this.pending.length > MAX_PENDING_EVENTS) {
      this.pending.shift();
      this.options.onOverflow?.();
    }
  }
}
