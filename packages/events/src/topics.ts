/**
 * Topics that cross service boundaries, named once: the publishing service and the gateway (or another service)
 * subscribe to the same string.
 */

/** Billing's payment and subscription events (payload `{ id, type, userId, data, createdAt }`). */
export const BILLING_EVENTS_TOPIC = 'billing.events';
/** Committed audit rows, relayed from PostgreSQL NOTIFY by access-control (`@gatehouse/audit`). */
export const AUDIT_EVENTS_TOPIC = 'audit.events';
/** The gateway's API-usage batches, stored by access-control. */
export const API_USAGE_TOPIC = 'gateway.api-usage';
