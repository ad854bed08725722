/**
 * The event types a webhook endpoint may subscribe to. An allow-list, so a typo in an endpoint's `events` is
 * refused at registration instead of silently never matching, and so `publish` cannot leak an internal event.
 * Stable: receivers switch on these strings. Add new types; never rename or remove one.
 */
export const WEBHOOK_EVENT_TYPES = [
  'payment.succeeded',
  'payment.failed',
  'payment.refunded',
  'invoice.created',
  'invoice.paid',
  'subscription.created',
  'subscription.updated',
  'subscription.canceled',
  'subscription.suspended',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const known: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && known.has(value);
}
