/**
 * Reasons the outbound webhooks attach to errors as `extensions.details.reason`, next to `extensions.code`.
 * Stable across releases: clients switch on them.
 */
export const WebhookErrorCode = {
  /** The URL is malformed, not https (in production), carries credentials or points at a private network. */
  WEBHOOK_URL_INVALID: 'WEBHOOK_URL_INVALID',
  /** An event type outside `WEBHOOK_EVENT_TYPES` (code BAD_USER_INPUT). */
  WEBHOOK_EVENT_TYPE_UNKNOWN: 'WEBHOOK_EVENT_TYPE_UNKNOWN',
  /** The owner already has the maximum number of endpoints (code CONFLICT). */
  WEBHOOK_ENDPOINT_LIMIT: 'WEBHOOK_ENDPOINT_LIMIT',
  /** No such endpoint for this caller (code NOT_FOUND; also for other users' endpoints). */
  WEBHOOK_ENDPOINT_NOT_FOUND: 'WEBHOOK_ENDPOINT_NOT_FOUND',
  /** No such delivery (code NOT_FOUND). */
  WEBHOOK_DELIVERY_NOT_FOUND: 'WEBHOOK_DELIVERY_NOT_FOUND',
  /** A pagination cursor not made by this service (code BAD_USER_INPUT). */
  WEBHOOK_CURSOR_INVALID: 'WEBHOOK_CURSOR_INVALID',
} as const;

export type WebhookErrorCode = (typeof WebhookErrorCode)[keyof typeof WebhookErrorCode];
