import { MemoryEventBus } from '@gatehouse/events';
import { API_USAGE_TOPIC, createUsageRecorder, type ApiUsageBatch } from './usage-recorder';

/** A bus that keeps what is published (and can be made to fail). */
function recordingBus() {
  const published: ApiUsageBatch[] = [];
  let failing = false;
  return {
    published,
    fail: (value: boolean) => {
      failing = value;
    },
    async publish<T>(topic: string, payload: T) {
      if (failing) throw new Error('bus down');
      expect(topic).toBe(API_USAGE_TOPIC);
      published.push(payload as ApiUsageBatch);
    },
  };
}

const sorted = (batch: ApiUsageBatch | undefined) =>
  [...(batch?.entries ?? [])].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('createUsageRecorder', () => {
  it('batches counts per UTC day, operation, type and outcome into one event per flush', async () => {
    const bus = recordingBus();
    let now = new Date('2026-03-01T23:59:59.999Z');
    const recorder = createUsageRecorder({ events: bus, flushIntervalMs: 0, now: () => now });
    recorder.record('GetUser', 'query', 'ok');
    recorder.record('GetUser', 'query', 'ok');
    recorder.record('GetUser', 'query', 'error');
    recorder.record(null, 'query', 'ok');
    recorder.record('Broken', 'not-a-type', 'error');
    now = new Date('2026-03-02T00:00:00.000Z');
    recorder.record('GetUser', 'query', 'ok');
    await recorder.flush();
    await recorder.flush(); // nothing new: nothing published

    expect(bus.published).toHaveLength(1);
    expect(bus.published[0]?.batchId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sorted(bus.published[0])).toEqual(
      sorted({
        batchId: '',
        entries: [
          { day: '2026-03-01', operation: 'GetUser', operationType: 'query', outcome: 'ok', count: 2 },
          { day: '2026-03-01', operation: 'GetUser', operationType: 'query', outcome: 'error', count: 1 },
          { day: '2026-03-01', operation: 'anonymous', operationType: 'query', outcome: 'ok', count: 1 },
          { day: '2026-03-01', operation: 'unknown', operationType: 'unknown', outcome: 'error', count: 1 },
          { day: '2026-03-02', operation: 'GetUser', operationType: 'query', outcome: 'ok', count: 1 },
        ],
      }),
    );
  });

  it('bounds client-chosen names: GraphQL names only, the first N distinct, the rest `other`', async () => {
    const bus = recordingBus();
    const recorder = createUsageRecorder({ events: bus, flushIntervalMs: 0, maxOperationNames: 2 });
    for (const name of ['A', 'B', 'C', 'has space', 'A', 'x'.repeat(65)])
      recorder.record(name, 'query', 'ok');
    await recorder.flush();
    const counts = Object.fromEntries(bus.published[0]!.entries.map((e) => [e.operation, e.count]));
    expect(counts).toEqual({ A: 2, B: 1, other: 3 });
  });

  it('keeps the counts of a failed publish for the next flush, and flushes on stop', async () => {
    const bus = recordingBus();
    const recorder = createUsageRecorder({ events: bus, flushIntervalMs: 0 });
    recorder.record('Op', 'mutation', 'ok');
    bus.fail(true);
    await recorder.flush();
    expect(bus.published).toHaveLength(0);
    bus.fail(false);
    recorder.record('Op', 'mutation', 'ok');
    await recorder.stop();
    expect(bus.published.map((batch) => batch.entries.map((e) => e.count))).toEqual([[2]]);
  });

  it('records through its Apollo plugin and publishes on the real bus type', async () => {
    const events = new MemoryEventBus();
    let deliver: (batch: ApiUsageBatch) => void = () => undefined;
    const delivered = new Promise<ApiUsageBatch>((resolve) => (deliver = resolve));
    await events.subscribe<ApiUsageBatch>(API_USAGE_TOPIC, (batch) => deliver(batch));
    const recorder = createUsageRecorder({ events, flushIntervalMs: 0 });
    const hooks = await recorder.plugin.requestDidStart!({} as never);
    await hooks!.willSendResponse!({
      operation: { operation: 'mutation' },
      operationName: 'DoIt',
      response: { body: { kind: 'single', singleResult: { errors: [{ message: 'no' }] } } },
    } as never);
    await recorder.flush();
    const batch = await delivered;
    await events.close();
    expect(batch.entries.map((e) => [e.operation, e.operationType, e.outcome])).toEqual([
      ['DoIt', 'mutation', 'error'],
    ]);
  });
});
