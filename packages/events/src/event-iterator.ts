import {
  type EventBusErrorReporter,
  type EventHandler,
  type EventIterator,
  type Unsubscribe,
} from './event-bus';

/** Events buffered for a consumer that is not pulling; beyond this the oldest are dropped and reported. */
export const MAX_BUFFERED_EVENTS = 1000;

type Subscribe = (topic: string, handler: EventHandler<unknown>) => Promise<Unsubscribe>;

/**
 * Pull-based view of push subscriptions, shared by both bus implementations.
 *
 * Unlike graphql-subscriptions' iterator, it subscribes when created rather than on the first `next()`,
 * so events published between a resolver returning the iterator and the server pulling from it are kept.
 */
export class BusEventIterator<T> implements EventIterator<T> {
  readonly ready: Promise<void>;
  private readonly buffered: T[] = [];
  private readonly waiting: ((result: IteratorResult<T>) => void)[] = [];
  private readonly subscriptions: Promise<Unsubscribe[]>;
  private finished = false;

  constructor(
    topics: string | readonly string[],
    subscribe: Subscribe,
    private readonly report: EventBusErrorReporter,
    private readonly onFinish: (iterator: BusEventIterator<T>) => void,
  ) {
    const unique = [...new Set(typeof topics === 'string' ? [topics] : topics)];
    this.subscriptions = Promise.all(
      unique.map((topic) => subscribe(topic, (payload) => this.push(payload as T, topic))),
    );
    this.ready = this.subscriptions.then(() => undefined);
    // Failures surface through next()/ready; never as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.finished) return { value: undefined, done: true };
    await this.ready;
    if (this.buffered.length > 0) return { value: this.buffered.shift() as T, done: false };
    if (this.finished) return { value: undefined, done: true };
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async return(): Promise<IteratorResult<T>> {
    if (!this.finished) {
      this.finished = true;
      this.onFinish(this);
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

  private push(value: T, topic: string): void {
    if (this.finished) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter({ value, done: false });
      return;
    }
    if (this.buffered.length >= MAX_BUFFERED_EVENTS) {
      this.buffered.shift();
      this.report(
        new Error(`event iterator buffer full (${MAX_BUFFERED_EVENTS}); dropped the oldest event`),
        {
          topic,
        },
      );
    }
    this.buffered.push(value);
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
    const iterator = new BusEventIterator<T>(topics, this.subscribe, this.report, (finished) =>
      this.open.delete(finished as BusEventIterator<unknown>),
    );
    this.open.add(iterator as BusEventIterator<unknown>);
    return iterator;
  }

  async returnAll(): Promise<void> {
    await Promise.all([...this.open].map((iterator) => iterator.return()));
  }
}
