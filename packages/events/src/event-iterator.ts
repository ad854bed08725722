import {
  type EventBusErrorReporter,
  type EventHandler,
  type EventIterator,
  type Unsubscribe,
} from './event-bus';

/** Events buffered for a consumer that is not pulling; beyond this the oldest are dropped and reported. */
export const MAX_BUFFERED_EVENTS = 1000;

type Subscribe = (topic: string, handler: EventHandler<unknown>) => Promise<Unsubscribe>;

export interface BusEventIteratorOptions<T> {
  topics: string | readonly string[];
  /** The bus's `subscribe` (one subscription per distinct topic). */
  subscribe: Subscribe;
  /**
   * Turns a bus message into what the consumer receives, or undefined to skip it (not the viewer's, malformed).
   * Applied before buffering, so skipped events never occupy the buffer. Default: the payload as is.
   */
  select?: (topic: string, payload: unknown) => T | undefined;
  /**
   * Called with the previous item when the consumer asks for the next one. graphql-ws asks only after it has
   * sent the previous result, so this is "after delivery": return true to end the iterator there.
   */
  afterDelivered?: (item: T) => boolean;
  /** Default {@link MAX_BUFFERED_EVENTS}. */
  maxBuffered?: number;
  /** Called when the buffer was full and the oldest event was dropped. */
  onOverflow?: (topic: string) => void;
  /** Called once when the iterator ends (`return()`, `throw()`, `afterDelivered` or the bus closing). */
  onFinish?: () => void;
}

/**
 * Pull-based view of push subscriptions: the bus's `asyncIterableIterator` and the gateway's subscription
 * streams are both this class.
 *
 * Unlike graphql-subscriptions' iterator, it subscribes when created rather than on the first `next()`,
 * so events published between a resolver returning the iterator and the server pulling from it are kept.
 * A class rather than an async generator: `return()` on a generator waiting for the next event would itself
 * wait for that event, leaving the bus subscription (and the client's `complete`) hanging until then.
 */
export class BusEventIterator<T> implements EventIterator<T> {
  readonly ready: Promise<void>;
  private readonly buffered: T[] = [];
  private readonly waiting: ((result: IteratorResult<T>) => void)[] = [];
  private readonly subscriptions: Promise<Unsubscribe[]>;
  private readonly maxBuffered: number;
  private delivered: { item: T } | undefined;
  private finished = false;

  constructor(private readonly options: BusEventIteratorOptions<T>) {
    const { topics, subscribe, select } = options;
    this.maxBuffered = options.maxBuffered ?? MAX_BUFFERED_EVENTS;
    const unique = [...new Set(typeof topics === 'string' ? [topics] : topics)];
    this.subscriptions = Promise.all(
      unique.map((topic) =>
        subscribe(topic, (payload) => {
          if (!select) return this.push(payload as T, topic);
          const item = select(topic, payload);
          if (item !== undefined) this.push(item, topic);
        }),
      ),
    );
    this.ready = this.subscriptions.then(() => undefined);
    // Failures surface through next()/ready; never as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  async next(): Promise<IteratorResult<T>> {
    const previous = this.delivered;
    this.delivered = undefined;
    if (previous !== undefined && this.options.afterDelivered?.(previous.item)) return this.return();
    if (this.finished) return { value: undefined, done: true };
    await this.ready;
    if (this.buffered.length > 0) return this.deliver(this.buffered.shift() as T);
    if (this.finished) return { value: undefined, done: true };
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async return(): Promise<IteratorResult<T>> {
    if (!this.finished) {
      this.finished = true;
      this.options.onFinish?.();
      for (const resolve of this.waiting.splice(0)) resolve({ value: undefined, done: true });
      this.buffered.length = 0;
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

  private deliver(item: T): IteratorResult<T> {
    if (this.options.afterDelivered) this.delivered = { item };
    return { value: item, done: false };
  }

  private push(item: T, topic: string): void {
    if (this.finished) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter(this.deliver(item));
      return;
    }
    if (this.buffered.length >= this.maxBuffered) {
      this.buffered.shift();
      this.options.onOverflow?.(topic);
    }
    this.buffered.push(item);
  }
}

/**
 * The iterators a bus has handed out and not yet finished, so that closing the bus ends every one of them
 * (a GraphQL subscription waiting in next() then completes instead of hanging).
 */
export class OpenEventIterators {
  private readonly open = new Set<BusEventIterator<unknown>>();

  constructor(
    private readonly subscribe: Subscribe,
    private readonly report: EventBusErrorReporter,
  ) {}

  create<T>(topics: string | readonly string[]): BusEventIterator<T> {
    const iterator: BusEventIterator<T> = new BusEventIterator<T>({
      topics,
      subscribe: this.subscribe,
      onOverflow: (topic) =>
        this.report(
          new Error(`event iterator buffer full (${MAX_BUFFERED_EVENTS}); dropped the oldest event`),
          { topic },
        ),
      onFinish: () => this.open.delete(iterator as BusEventIterator<unknown>),
    });
    this.open.add(iterator as BusEventIterator<unknown>);
    return iterator;
  }

  async returnAll(): Promise<void> {
    await Promise.all([...this.open].map((iterator) => iterator.return()));
  }
}
