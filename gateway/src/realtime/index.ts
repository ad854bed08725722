export {
  createRealtimeServer,
  RealtimeCloseReason,
  RealtimeRefusal,
  type RealtimeServer,
  type RealtimeServerOptions,
} from './realtime-server';
export { buildRealtimeSchema, REALTIME_SDL } from './schema';
export {
  AUDIT_EVENTS_TOPIC,
  BILLING_EVENTS_TOPIC,
  SECURITY_TOPICS,
  SESSION_TOPICS,
  type AuditEventPayload,
  type BillingEventPayload,
  type SecurityEventPayload,
  type SessionEventPayload,
} from './topics';
