import { type EventBus, type EventBusReportingOptions } from './event-bus';
import { MemoryEventBus } from './memory-event-bus';
import { RedisEventBus } from './redis-event-bus';

export interface CreateEventBusOptions extends EventBusReportingOptions {
  /** When set, events go through Redis and reach every replica; otherwise they stay in this process. */
  redisUrl?: string;
  /** Redis channel namespace (see {@link RedisEventBus}). Ignored in-process. */
  prefix?: string;
}

/**
 * Redis when `redisUrl` is given, otherwise the in-process bus of the embedded single-process deployment.
 * In-process, only subscribers of the same instance see events: create one bus and share it.
 */
export function createEventBus(options: CreateEventBusOptions = {}): EventBus {
  const { redisUrl, prefix, ...reporting } = options;
  if (redisUrl) return new RedisEventBus({ redisUrl, prefix, ...reporting });
  return new MemoryEventBus(reporting);
}
