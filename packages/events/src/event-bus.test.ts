import { Redis } from 'ioredis';
import { redisUrlForTests, uniqueTestPrefix, waitFor } from '@gatehouse/testing';
import { createEventBus } from './create-event-bus';
import { describeEventBusContract } from './event-bus.contract';
import { MAX_BUFFERED_EVENTS } from './event-iterator';
import { MemoryEventBus } from './memory-event-bus';
import { RedisEventBus } from './redis-event-bus';

describeEventBusContract('in-process', (reporting) => new MemoryEventBus(reporting));

const redisUrl = redisUrlForTests('@gatehouse/events');
if (redisUrl) {
  // Channels hold no keys, so a unique prefix is all the isolation and cleanup pub/sub needs.
  const prefix = uniqueTestPrefix();
  describeEventBusContract('redis', (reporting) => new RedisEventBus({ redisUrl, prefix, ...reporting }));

  describe('RedisEventBus', () => {
    let bus: RedisEventBus;
    let admin: Redis;

    beforeAll(() => {
      admin = new Redis(redisUrl);
    });
    afterAll(async () => {
      await admin.quit();
    });
    beforeEach(() => {
      bus = new RedisEventBus({ redisUrl, prefix });
    });
    afterEach(async () => {
      await bus.close();
    });

    async function subscribersOf(topic: string): Promise<number> {
      const [, count] = (await admin.pubsub('NUMSUB', `${prefix}:events:${topic}`)) as [string, number];
      return count;
    }

    it('publishes on a prefixed channel, reaching other bus instances', async () => {
      const other = new RedisEventBus({ redisUrl, prefix });
      try {
        const received: unknown[] = [];
        await other.subscribe('cross', (payload) => {
          received.push(payload);
        });
        await bus.publish('cross', { from: 'bus' });
        await waitFor(() => received.length === 1, { what: 'cross-instance event' });
        expect(received).toEqual([{ from: 'bus' }]);
      } finally {
        await other.close();
      }
    });

    it('has every subscription in force at Redis once subscribe resolves, even when made while connecting', async () => {
      // A fresh bus (still connecting), many subscriptions at once: each must really be SUBSCRIBEd at Redis.
      const fresh = new RedisEventBus({ redisUrl, prefix });
      try {
        const topics = ['t1', 't2', 't3', 't4', 't5'].map((topic) => `connecting-${topic}`);
        const received = new Map<string, number>();
        await Promise.all(
          topics.flatMap((topic) =>
            [1, 2, 3].map(() =>
              fresh.subscribe(topic, () => void received.set(topic, (received.get(topic) ?? 0) + 1)),
            ),
          ),
        );
        for (const topic of topics) expect(await subscribersOf(topic)).toBe(1);
        for (const topic of topics) await bus.publish(topic, { topic });
        await waitFor(() => topics.every((topic) => received.get(topic) === 3), {
          what: 'every topic delivered',
        });
      } finally {
        await fresh.close();
      }
    });

    it('releases the Redis subscription when an iterator returns', async () => {
      const iterator = bus.asyncIterableIterator('released');
      await iterator.ready;
      expect(await subscribersOf('released')).toBe(1);
      await iterator.return();
      await waitFor(async () => (await subscribersOf('released')) === 0, { what: 'UNSUBSCRIBE' });
    });

    it('is what createEventBus returns for a redisUrl', async () => {
      const created = createEventBus({ redisUrl, prefix });
      expect(created).toBeInstanceOf(RedisEventBus);
      await created.ping();
      await created.close();
    });
  });
}

describe('MemoryEventBus', () => {
  it('is what createEventBus returns without a redisUrl', async () => {
    const bus = createEventBus();
    expect(bus).toBeInstanceOf(MemoryEventBus);
    await bus.close();
  });

  it('drops the subscription when an iterator returns', async () => {
    const bus = new MemoryEventBus();
    const topics = (bus as unknown as { topics: Map<string, Set<unknown>> }).topics;
    const iterator = bus.asyncIterableIterator(['a', 'b']);
    await iterator.ready;
    expect(topics.size).toBe(2);
    await iterator.return();
    expect(topics.size).toBe(0);
    await bus.close();
  });

  it(`keeps at most ${MAX_BUFFERED_EVENTS} unread events per iterator, dropping the oldest`, async () => {
    const errors: unknown[] = [];
    const bus = new MemoryEventBus({ onError: (error) => errors.push(error) });
    const iterator = bus.asyncIterableIterator<number>('flood');
    await iterator.ready;
    const total = MAX_BUFFERED_EVENTS + 5;
    for (let i = 0; i < total; i++) await bus.publish('flood', i);
    await waitFor(() => errors.length === 5, { what: 'overflow reports' });
    await expect(iterator.next()).resolves.toEqual({ value: 5, done: false });
    await bus.close();
  });
});
