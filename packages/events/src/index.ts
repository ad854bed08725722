export type {
  EventBus,
  EventBusErrorReporter,
  EventBusLogger,
  EventBusReportingOptions,
  EventHandler,
  EventIterator,
  Unsubscribe,
} from './event-bus';
export { BusEventIterator, MAX_BUFFERED_EVENTS, type BusEventIteratorOptions } from './event-iterator';
export { MemoryEventBus, type MemoryEventBusOptions } from './memory-event-bus';
export { RedisEventBus, type RedisEventBusOptions } from './redis-event-bus';
export { createEventBus, type CreateEventBusOptions } from './create-event-bus';
export { API_USAGE_TOPIC, AUDIT_EVENTS_TOPIC, BILLING_EVENTS_TOPIC } from './topics';
