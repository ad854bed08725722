import {
  deliver,
  encodePayload,
  errorReporter,
  type EventBus,
  type EventBusErrorReporter,
  type EventBusReportingOptions,
  type EventHandler,
  type Unsubscribe,
} from './event-bus';
import { OpenEventIterators, type BusEventIterator } from './event-iterator';

export type MemoryEventBusOptions = EventBusReportingOptions;

interface Subscription {
  handler: EventHandler<never>;
  active: boolean;
}

/**
 * In-process {@link EventBus} for the embedded single-process deployment and for tests.
 * Only subscribers of the same instance receive events: create one bus per process and share it.
 */
export class MemoryEventBus implements EventBus {
  private readonly topics = new Map<string, Set<Subscription>>();
  private readonly iterators: OpenEventIterators;
  private readonly report: EventBusErrorReporter;
  private closed = false;

  constructor(options: MemoryEventBusOptions = {}) {
    this.report = errorReporter(options);
    this.iterators = new OpenEventIterators((topic, handler) => this.subscribe(topic, handler), this.report);
  }

  async publish<T>(topic: string, payload: T): Promise<void> {
    this.assertOpen();
    const message = encodePayload(topic, payload);
    for (const subscription of this.topics.get(topic) ?? []) {
      // Asynchronous like a network hop: publish() never runs handlers, and setImmediate keeps publish order.
      setImmediate(() => {
        if (subscription.active) deliver(topic, message, subscription.handler, this.report);
      });
    }
  }

  async subscribe<T>(topic: string, handler: EventHandler<T>): Promise<Unsubscribe> {
    this.assertOpen();
    const subscription: Subscription = { handler: handler as EventHandler<never>, active: true };
    let subscribers = this.topics.get(topic);
    if (!subscribers) {
      subscribers = new Set();
      this.topics.set(topic, subscribers);
    }
    subscribers.add(subscription);
    return async () => {
      subscription.active = false;
      const current = this.topics.get(topic);
      current?.delete(subscription);
      if (current?.size === 0) this.topics.delete(topic);
    };
  }

  asyncIterableIterator<T>(topics: string | readonly string[]): BusEventIterator<T> {
    this.assertOpen();
    return this.iterators.create<T>(topics);
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.iterators.returnAll();
    for (const subscribers of this.topics.values()) {
      for (const subscription of subscribers) subscription.active = false;
    }
    this.topics.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryEventBus is closed');
  }
}
