import { randomUUID } from 'node:crypto';
import { MemoryEventBus } from '@gatehouse/events';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { API_USAGE_TOPIC, startApiUsageConsumer } from './api-usage.consumer';
import { createApiUsageRepository, recordApiUsage } from './api-usage.repository';

const logger = createLogger({ name: 'api-usage-test', level: 'silent' });
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 4 });
});

afterAll(async () => {
  await db?.close();
});

async function rows(): Promise<Array<{ key: string; count: string }>> {
  const { rows: found } = await db.pool.query<{ key: string; count: string }>(
    `SELECT concat_ws('/', to_char(day, 'YYYY-MM-DD'), operation, operation_type, outcome) AS key,
            count::text AS count
       FROM api_usage_daily ORDER BY 1`,
  );
  return found;
}

/** Resolves once `check` passes (the bus delivers asynchronously); fails the test after ~2 s. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await check();
      return;
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

beforeEach(async () => {
  await db.pool.query('DELETE FROM api_usage_daily');
});

describe('recordApiUsage', () => {
  it('adds batches up per key, also when they run concurrently and repeat a key', async () => {
    const entry = { day: '2026-03-01', operation: 'GetUser', operationType: 'query', outcome: 'ok' } as const;
    await recordApiUsage(db.prisma, {
      entries: [
        { ...entry, count: 2 },
        // The same key twice in one batch: summed, not "cannot affect row a second time".
        { ...entry, count: 3 },
        { ...entry, outcome: 'error', count: 1 },
      ],
    });
    await Promise.all(
      Array.from({ length: 8 }, () =>
        recordApiUsage(db.prisma, { entries: [{ ...entry, count: 4_000_000_000 }] }),
      ),
    );
    expect(await rows()).toEqual([
      { key: '2026-03-01/GetUser/query/error', count: '1' },
      { key: '2026-03-01/GetUser/query/ok', count: String(5 + 8 * 4_000_000_000) },
    ]);
  });
});

describe('startApiUsageConsumer', () => {
  it('records each batch from the bus once, however many replicas subscribe, and drops malformed ones', async () => {
    const events = new MemoryEventBus();
    const kv = new MemoryKeyValueStore();
    // Two access-control replicas on one bus and one store.
    const stops = await Promise.all([
      startApiUsageConsumer({ repository: createApiUsageRepository(db.prisma), events, kv, logger }),
      startApiUsageConsumer({ repository: createApiUsageRepository(db.prisma), events, kv, logger }),
    ]);
    try {
      const entries = [
        { day: '2026-03-02', operation: 'anonymous', operationType: 'query', outcome: 'ok', count: 7 },
      ];
      await events.publish(API_USAGE_TOPIC, { batchId: randomUUID(), entries });
      await events.publish(API_USAGE_TOPIC, { batchId: randomUUID(), entries });
      // Not a GraphQL name, not a known type, no batch id: none of them is written.
      await events.publish(API_USAGE_TOPIC, {
        batchId: randomUUID(),
        entries: [{ ...entries[0], operation: 'drop table' }],
      });
      await events.publish(API_USAGE_TOPIC, {
        batchId: randomUUID(),
        entries: [{ ...entries[0], operationType: 'query; --' }],
      });
      await events.publish(API_USAGE_TOPIC, { entries });
      await eventually(async () => {
        expect(await rows()).toEqual([{ key: '2026-03-02/anonymous/query/ok', count: '14' }]);
      });
    } finally {
      for (const stop of stops) await stop();
      await events.close();
    }
  });
});
