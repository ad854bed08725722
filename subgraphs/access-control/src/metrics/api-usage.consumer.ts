import { API_USAGE_TOPIC, type EventBus, type Unsubscribe } from '@gatehouse/events';
import type { KeyValueStore } from '@gatehouse/kv';
import type { SubgraphAppDependencies } from '@gatehouse/service';
import { z } from 'zod';
import type { ApiUsageRepository } from './api-usage.repository';

/**
 * The topic the gateway publishes its usage batches on (`gateway/src/usage-recorder.ts`, API_USAGE_TOPIC); the
 * two must stay equal.
 */
export { API_USAGE_TOPIC };

/** Largest batch accepted: the gateway bounds names, so a real batch is far below this. */
const MAX_ENTRIES = 10_000;

/**
 * A batch as the gateway publishes it. Validated because the bus is shared: whatever publishes on the topic, only
 * well-formed, bounded rows reach the table.
 */
const apiUsageBatch = z.object({
  /** Unique per flush: the replica that claims it records the batch (see {@link startApiUsageConsumer}). */
  batchId: z.uuid(),
  entries: z
    .array(
      z.object({
        day: z.iso.date(),
        operation: z.string().regex(/^[_A-Za-z][_0-9A-Za-z]{0,63}$/),
        operationType: z.enum(['query', 'mutation', 'subscription', 'unknown']),
        outcome: z.enum(['ok', 'error']),
        count: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
      }),
    )
    .max(MAX_ENTRIES),
});

export type ApiUsageBatch = z.infer<typeof apiUsageBatch>;

export interface ApiUsageConsumerOptions {
  /** Where the claimed batches are added (`createApiUsageRepository`). */
  repository: ApiUsageRepository;
  events: Pick<EventBus, 'subscribe'>;
  /**
   * The store every replica shares: pub/sub hands each batch to every access-control replica, and only the one
   * that claims the batch id here adds it (without it, N replicas would count every request N times).
   */
  kv: Pick<KeyValueStore, 'set'>;
  logger: SubgraphAppDependencies['logger'];
}

/** How long a claimed batch id is remembered; far longer than any redelivery could take. */
const CLAIM_TTL_SECONDS = 60 * 60;

/**
 * Subscribes to the gateway's usage batches and adds each to `api_usage_daily` once, whichever replica claims it.
 * A malformed batch is logged (without its content) and dropped.
 * @returns the unsubscribe function.
 */
export function startApiUsageConsumer(options: ApiUsageConsumerOptions): Promise<Unsubscribe> {
  const { repository, events, kv, logger } = options;
  return events.subscribe<unknown>(API_USAGE_TOPIC, async (payload) => {
    const parsed = apiUsageBatch.safeParse(payload);
    if (!parsed.success) {
      logger.warn({ issues: parsed.error.issues.length }, 'Malformed API usage batch dropped');
      return;
    }
    const claimed = await kv.set(`api-usage:batch:${parsed.data.batchId}`, '1', {
      onlyIfAbsent: true,
      ttlSeconds: CLAIM_TTL_SECONDS,
    });
    if (claimed) await repository.record(parsed.data);
  });
}
