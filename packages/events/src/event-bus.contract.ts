// The behaviour every EventBus must have; run against each implementation (excluded from the build).
import { waitFor } from '@gatehouse/testing';
import { type EventBus, type EventBusReportingOptions } from './event-bus';

/**
 * Registers the EventBus contract for one implementation.
 * `factory` must return a fresh bus that reports delivery failures to the given `onError`.
 */
export function describeEventBusContract(
  name: string,
  factory: (reporting: Required<Pick<EventBusReportingOptions, 'onError'>>) => EventBus | Promise<EventBus>,
): void {
  describe(`EventBus contract: ${name}`, () => {
    let bus: EventBus;
    let errors: { error: unknown; topic: string }[];

    beforeEach(async () => {
      errors = [];
      bus = await factory({ onError: (error, { topic }) => errors.push({ error, topic }) });
    });

    afterEach(async () => {
      await bus.close();
    });

    /** Subscribes a handler that records what it receives. */
    async function collect<T = unknown>(
      topic: string,
    ): Promise<{ received: T[]; unsubscribe: () => Promise<void> }> {
      const received: T[] = [];
      const unsubscribe = await bus.subscribe<T>(topic, (payload) => {
        received.push(payload);
      });
      return { received, unsubscribe };
    }

    it('delivers exactly the published payload, as JSON (Dates become ISO strings)', async () => {
      const { received } = await collect('user.updated');
      const at = new Date('2024-05-06T07:08:09.010Z');
      await bus.publish('user.updated', {
        id: 'u1',
        name: 'Zoë 🚀',
        count: 3,
        ratio: 0.5,
        flags: [true, false, null],
        nested: { at, gone: undefined },
      });
      await bus.publish('user.updated', 'plain string');
      await bus.publish('user.updated', null);
      await waitFor(() => received.length === 3, { what: 'three events' });
      expect(received).toEqual([
        {
          id: 'u1',
          name: 'Zoë 🚀',
          count: 3,
          ratio: 0.5,
          flags: [true, false, null],
          nested: { at: '2024-05-06T07:08:09.010Z' },
        },
        'plain string',
        null,
      ]);
      expect(errors).toEqual([]);
    });

    it('keeps the order of events from one publisher', async () => {
      const { received } = await collect<number>('ordered');
      for (let i = 0; i < 25; i++) await bus.publish('ordered', i);
      await waitFor(() => received.length === 25, { what: '25 events' });
      expect(received).toEqual(Array.from({ length: 25 }, (_, i) => i));
    });

    it('delivers only to subscribers of the topic', async () => {
      const a = await collect('topic.a');
      const b = await collect('topic.b');
      await bus.publish('topic.b', 'for b');
      await bus.publish('topic.a', 'for a');
      await waitFor(() => a.received.length === 1 && b.received.length === 1, { what: 'one event each' });
      expect(a.received).toEqual(['for a']);
      expect(b.received).toEqual(['for b']);
    });

    it('delivers to every subscriber, each with its own copy', async () => {
      const mutated: unknown[] = [];
      await bus.subscribe<{ tags: string[] }>('shared', (payload) => {
        payload.tags.push('mutated');
        mutated.push(payload);
      });
      const second = await collect('shared');
      const third = await collect('shared');
      await bus.publish('shared', { tags: ['a'] });
      await waitFor(
        () => mutated.length === 1 && second.received.length === 1 && third.received.length === 1,
        {
          what: 'three deliveries',
        },
      );
      expect(second.received).toEqual([{ tags: ['a'] }]);
      expect(third.received).toEqual([{ tags: ['a'] }]);
    });

    it('stops delivery as soon as a subscriber unsubscribes, leaving others subscribed', async () => {
      const leaving = await collect('leave');
      const staying = await collect('leave');
      await bus.publish('leave', 1);
      await waitFor(() => leaving.received.length === 1 && staying.received.length === 1, {
        what: 'first event',
      });
      await leaving.unsubscribe();
      await leaving.unsubscribe(); // idempotent
      await bus.publish('leave', 2);
      await waitFor(() => staying.received.length === 2, { what: 'second event' });
      expect(leaving.received).toEqual([1]);
      expect(staying.received).toEqual([1, 2]);
    });

    it('resolves a publish nobody listens to', async () => {
      await expect(bus.publish('nobody.listens', { ok: true })).resolves.toBeUndefined();
    });

    it('rejects a payload JSON cannot represent', async () => {
      await expect(bus.publish('bad', undefined)).rejects.toThrow(TypeError);
      await expect(bus.publish('bad', { big: 1n })).rejects.toThrow(TypeError);
    });

    it('survives handlers that throw or reject, and reports them', async () => {
      await bus.subscribe('faulty', () => {
        throw new Error('sync failure');
      });
      await bus.subscribe('faulty', async () => {
        throw new Error('async failure');
      });
      const healthy = await collect('faulty');
      await bus.publish('faulty', 1);
      await bus.publish('faulty', 2);
      await waitFor(() => healthy.received.length === 2 && errors.length === 4, {
        what: 'deliveries and errors',
      });
      expect(healthy.received).toEqual([1, 2]);
      expect(errors.map(({ topic }) => topic)).toEqual(['faulty', 'faulty', 'faulty', 'faulty']);
      expect(errors.map(({ error }) => (error as Error).message).sort()).toEqual([
        'async failure',
        'async failure',
        'sync failure',
        'sync failure',
      ]);
    });

    it('iterates events of several topics, buffering those published before next()', async () => {
      const iterator = bus.asyncIterableIterator<{ n: number }>(['it.one', 'it.two', 'it.one']);
      await iterator.ready;
      await bus.publish('it.one', { n: 1 });
      await bus.publish('it.two', { n: 2 });
      await expect(iterator.next()).resolves.toEqual({ value: { n: 1 }, done: false });
      await expect(iterator.next()).resolves.toEqual({ value: { n: 2 }, done: false });
      const pending = iterator.next();
      await bus.publish('it.two', { n: 3 });
      await expect(pending).resolves.toEqual({ value: { n: 3 }, done: false });
      await iterator.return?.();
    });

    it('ends the iterator on return(): pending next() settles, later events are not delivered', async () => {
      const iterator = bus.asyncIterableIterator('it.return');
      await iterator.ready;
      const pending = iterator.next();
      await expect(iterator.return?.()).resolves.toEqual({ value: undefined, done: true });
      await expect(pending).resolves.toEqual({ value: undefined, done: true });
      await bus.publish('it.return', 'late');
      const probe = await collect('it.return');
      await bus.publish('it.return', 'probe');
      await waitFor(() => probe.received.length > 0, { what: 'probe' });
      await expect(iterator.next()).resolves.toEqual({ value: undefined, done: true });
    });

    it('works with for await, and breaking out unsubscribes', async () => {
      const iterator = bus.asyncIterableIterator<number>('it.loop');
      await iterator.ready;
      for (let i = 1; i <= 3; i++) await bus.publish('it.loop', i);
      const seen: number[] = [];
      for await (const n of iterator) {
        seen.push(n);
        if (seen.length === 2) break;
      }
      expect(seen).toEqual([1, 2]);
      await expect(iterator.next()).resolves.toEqual({ value: undefined, done: true });
    });

    it('ends open iterators and refuses new work when closed', async () => {
      const iterator = bus.asyncIterableIterator('it.close');
      await iterator.ready;
      const pending = iterator.next();
      await bus.close();
      await expect(pending).resolves.toEqual({ value: undefined, done: true });
      await expect(bus.publish('it.close', 1)).rejects.toThrow('closed');
      await expect(bus.subscribe('it.close', () => undefined)).rejects.toThrow('closed');
      await bus.close(); // idempotent
    });

    it('answers ping', async () => {
      await expect(bus.ping()).resolves.toBeUndefined();
    });
  });
}
