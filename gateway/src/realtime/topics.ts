/**
 * The event-bus topics the WebSocket server relays, and the payloads it expects on them.
 *
 * The publishers own these names (identity's `SessionEventTopic`, `MfaEventTopic` and `LoginGuardEventTopic`,
 * billing's `BILLING_EVENTS_TOPIC`); they are repeated here because the gateway is built without the subgraphs'
 * code. The end-to-end tests (realtime*.test.ts) run the real publishers, so a renamed topic fails them.
 * Payloads are validated on arrival: a malformed one is dropped rather than sent half-formed to a browser.
 */
import { AUDIT_EVENTS_TOPIC, BILLING_EVENTS_TOPIC } from '@gatehouse/events';
import { z } from 'zod';

export const SESSION_TOPICS = {
  CREATED: 'session.created',
  REVOKED: 'session.revoked',
} as const;

/** Security topic → the `SecurityEventType` value it is relayed as. */
export const SECURITY_TOPICS = {
  'security.new_sign_in': 'NEW_SIGN_IN',
  'security.account_locked': 'ACCOUNT_LOCKED',
  'security.refresh_token_reused': 'REFRESH_TOKEN_REUSED',
  'security.mfa_enabled': 'MFA_ENABLED',
  'security.mfa_disabled': 'MFA_DISABLED',
  'security.mfa_factor_enrolled': 'MFA_FACTOR_ENROLLED',
  'security.mfa_challenge_failed': 'MFA_CHALLENGE_FAILED',
  'security.backup_code_used': 'BACKUP_CODE_USED',
  'security.backup_codes_regenerated': 'BACKUP_CODES_REGENERATED',
} as const;

/** Billing publishes every payment, invoice and subscription event here (`{ id, type, userId, data, createdAt }`). */
export { BILLING_EVENTS_TOPIC };

/**
 * Rows written to `audit_logs`, announced after their transaction commits (see the audit_notify migration and
 * docs/realtime.md): `{ id, action, outcome, actorUserId, targetType, targetId, createdAt }`.
 */
export { AUDIT_EVENTS_TOPIC };

const isoDate = z.string().min(1).max(64);
const id = z.string().min(1).max(200);

export const sessionEventPayload = z.object({
  id: id.optional(),
  userId: id,
  sessionId: id,
  reason: z.string().max(64).optional(),
  novelty: z.string().max(32).optional(),
  device: z.string().max(300).optional(),
  location: z.string().max(200).nullable().optional(),
  at: isoDate,
});
export type SessionEventPayload = z.output<typeof sessionEventPayload>;

/** Every security event names its user; the rest differs per topic and is relayed as `details`. */
export const securityEventPayload = z.looseObject({
  id: id.optional(),
  userId: id,
  sessionId: id.optional(),
  at: isoDate,
});
export type SecurityEventPayload = z.output<typeof securityEventPayload>;

export const billingEventPayload = z.object({
  id,
  type: z.string().min(1).max(100),
  userId: id,
  data: z.record(z.string(), z.unknown()),
  createdAt: isoDate,
});
export type BillingEventPayload = z.output<typeof billingEventPayload>;

export const auditEventPayload = z.object({
  id,
  action: z.string().min(1).max(100),
  outcome: z.enum(['SUCCESS', 'FAILURE']),
  actorUserId: id.nullable(),
  impersonatorUserId: id.nullable().default(null),
  targetType: z.string().max(100).nullable(),
  targetId: z.string().max(200).nullable(),
  createdAt: isoDate,
});
export type AuditEventPayload = z.output<typeof auditEventPayload>;
