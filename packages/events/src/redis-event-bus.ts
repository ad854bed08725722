import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
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

export interface RedisEventBusOptions extends EventBusReportingOptions {
  /** redis:// or rediss:// URL. */
  redisUrl: string;
  /** Namespace for channels; a topic is published on `<prefix>:events:<topic>`. Default `gatehouse`. */
  prefix?: string;
  /** How long ping() waits before reporting Redis unreachable. Default 2000 ms. */
  pingTimeoutMs?: number;
}

/**
 * {@link EventBus} over Redis pub/sub (graphql-redis-subscriptions' RedisPubSub), reaching every replica.
 * Uses two connections: a connection in subscriber mode cannot publish.
 */
export class RedisEventBus implements EventBus {
  private readonly pubsub: RedisPubSub;
  private readonly publisher: Redis;
  private readonly channelPrefix: string;
  private readonly pingTimeoutMs: number;
  private readonly report: EventBusErrorReporter;
  private readonly iterators: OpenEventIterators;
  private closing: Promise<void> | undefined;
  private readonly subscriberReady: Promise<void>;

  constructor(options: RedisEventBusOptions) {
    this.channelPrefix = `${options.prefix ?? 'gatehouse'}:events:`;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
    this.report = errorReporter(options);
    this.iterators = new OpenEventIterators((topic, handler) => this.subscribe(topic, handler), this.report);
    this.publisher = new Redis(options.redisUrl, { connectionName: 'gatehouse-events-pub' });
    // Connected before the first SUBSCRIBE: a SUBSCRIBE queued while ioredis is still connecting (and naming the
    // connection) could be acknowledged to the caller yet not be in force at Redis, so a topic went silent at random.
    const subscriber = new Redis(options.redisUrl, {
      connectionName: 'gatehouse-events-sub',
      lazyConnect: true,
    });
    this.subscriberReady = subscriber.connect();
    // Reported through subscribe(); an unobserved rejection must not crash the process.
    this.subscriberReady.catch(() => undefined);
    for (const connection of [this.publisher, subscriber]) {
      // Commands fail on their own; this listener keeps ioredis from treating reconnects as unhandled errors.
      connection.on('error', (error: Error) => this.report(error, { topic: '(connection)' }));
    }
    this.pubsub = new RedisPubSub({
      publisher: this.publisher,
      subscriber,
      // Messages stay strings here; deliver() decodes one copy per handler, exactly as the in-process bus does.
      serializer: (message: string) => message,
      deserializer: (raw: string | Buffer) => raw.toString(),
    });
  }

  async publish<T>(topic: string, payload: T): Promise<void> {
    this.assertOpen();
    await this.pubsub.publish(this.channel(topic), encodePayload(topic, payload));
  }

  async subscribe<T>(topic: string, handler: EventHandler<T>): Promise<Unsubscribe> {
    this.assertOpen();
    let active = true;
    await this.subscriberReady;
    const id = await this.pubsub.subscribe<string>(this.channel(topic), (message) => {
      if (active) deliver(topic, message, handler, this.report);
    });
    return async () => {
      if (!active) return;
      // Stop delivery now; Redis may still hand over messages already in flight.
      active = false;
      if (!this.closing) this.pubsub.unsubscribe(id);
    };
  }

  asyncIterableIterator<T>(topics: string | readonly string[]): BusEventIterator<T> {
    this.assertOpen();
    return this.iterators.create<T>(topics);
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`events: redis did not answer PING within ${this.pingTimeoutMs} ms`)),
        this.pingTimeoutMs,
      );
    });
    try {
      await Promise.race([this.publisher.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.iterators.returnAll();
      await Promise.all(
        [this.pubsub.getPublisher(), this.pubsub.getSubscriber()].map((connection) =>
          connection.quit().then(
            () => undefined,
            // QUIT fails when the connection is already down; dropping it is all that is left to do.
            () => connection.disconnect(),
          ),
        ),
      );
    })();
    return this.closing;
  }

  private channel(topic: string): string {
    return this.channelPrefix + topic;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('RedisEventBus is closed');
  }
}
