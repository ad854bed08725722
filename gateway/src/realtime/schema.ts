import { createHash } from 'node:crypto';
import { ErrorCode } from '@gatehouse/errors';
import { BusEventIterator, type BusEventIteratorOptions, type EventBus } from '@gatehouse/events';
import { AUDIT_READ_PERMISSION, type Viewer } from '@gatehouse/service';
import { buildSchema, GraphQLError, type GraphQLSchema } from 'graphql';
import {
  AUDIT_EVENTS_TOPIC,
  auditEventPayload,
  BILLING_EVENTS_TOPIC,
  billingEventPayload,
  SECURITY_TOPICS,
  securityEventPayload,
  SESSION_TOPICS,
  sessionEventPayload,
} from './topics';

/** Events waiting for a slow socket; beyond this the oldest are dropped (delivery is at-most-once anyway). */
export const MAX_PENDING_EVENTS = 100;

/**
 * The WebSocket server's own schema. @apollo/gateway does not federate subscriptions, so these fields are
 * served by the gateway itself from the event bus; they are not part of the supergraph.
 */
export const REALTIME_SDL = /* GraphQL */ `
  "ISO 8601 date-time, e.g. 2025-01-31T12:00:00.000Z."
  scalar DateTime
  "Any JSON value."
  scalar JSON

  "The open connection, as the server sees it."
  type RealtimeConnection {
    "The connection's user."
    userId: ID!
    "The session of the connection's access token; revoking it closes the connection (4401)."
    sessionId: ID
    "When the access token expires: the server closes the connection then (4401 \\"Token expired\\")."
    expiresAt: DateTime!
    "Concurrent subscriptions one connection may hold."
    maxSubscriptions: Int!
  }

  "The WebSocket connection's own query root (not part of the HTTP graph)."
  type Query {
    "The connection's viewer and limits (the subscriptions are the point of this endpoint)."
    connection: RealtimeConnection!
  }

  "Whether a session started or ended."
  enum SessionEventType {
    "A session was created (a sign-in)."
    CREATED
    "A session was revoked (sign-out, revocation by the user or an administrator, password change, ...)."
    REVOKED
  }

  "A device session of the viewer started or ended."
  type SessionEvent {
    "The event's id, the same on every connection and replica (de-duplicate by it)."
    id: ID!
    "Whether the session started or ended."
    type: SessionEventType!
    "The viewer."
    userId: ID!
    "The session that started or ended."
    sessionId: ID!
    "Whether it is the session of this connection (REVOKED and current: the connection is closed after this event)."
    current: Boolean!
    "REVOKED: LOGOUT, USER_REVOKED, ADMIN_REVOKED, PASSWORD_CHANGED, PASSWORD_RESET, SESSION_LIMIT_EXCEEDED, ..."
    reason: String
    "CREATED: e.g. 'Firefox 128 on Linux'."
    device: String
    "CREATED: e.g. 'Berlin, DE'."
    location: String
    "When it happened."
    at: DateTime!
  }

  "What kind of security event happened."
  enum SecurityEventType {
    "A sign-in from a new device or place."
    NEW_SIGN_IN
    "Too many failed sign-ins locked the account for a while."
    ACCOUNT_LOCKED
    "A refresh token was used twice; its whole token family was revoked."
    REFRESH_TOKEN_REUSED
    "Multi-factor authentication was turned on."
    MFA_ENABLED
    "Multi-factor authentication was turned off."
    MFA_DISABLED
    "A new second factor was enrolled."
    MFA_FACTOR_ENROLLED
    "A second-factor challenge failed."
    MFA_CHALLENGE_FAILED
    "A backup code was used to sign in."
    BACKUP_CODE_USED
    "The backup codes were regenerated (the old ones no longer work)."
    BACKUP_CODES_REGENERATED
  }

  "Something that matters for the security of the viewer's account."
  type SecurityEvent {
    "The event's id, the same on every connection and replica (de-duplicate by it)."
    id: ID!
    "What happened."
    type: SecurityEventType!
    "The viewer."
    userId: ID!
    "The session concerned, when there is one."
    sessionId: ID
    "The rest of the event (device, ip, method, lockedUntil, ...; see docs/realtime.md). Never a secret."
    details: JSON!
    "When it happened."
    at: DateTime!
  }

  "The kind of billing event (PaymentEvent.name is the exact published type)."
  enum PaymentEventType {
    "payment.succeeded: a charge went through."
    PAYMENT_SUCCEEDED
    "payment.failed: a charge was declined or failed."
    PAYMENT_FAILED
    "payment.refunded: a payment was refunded, in full or in part."
    PAYMENT_REFUNDED
    "invoice.created: a new invoice was issued."
    INVOICE_CREATED
    "invoice.paid: an invoice was paid."
    INVOICE_PAID
    "subscription.created: the viewer subscribed to a plan."
    SUBSCRIPTION_CREATED
    "subscription.updated: the plan, quantity or renewal changed."
    SUBSCRIPTION_UPDATED
    "subscription.canceled: the subscription was canceled."
    SUBSCRIPTION_CANCELED
    "subscription.suspended: the subscription was suspended after failed payments."
    SUBSCRIPTION_SUSPENDED
    "A billing event this gateway version does not know yet; see name."
    OTHER
  }

  "A payment, invoice or subscription event of the viewer (the same events billing sends to webhooks)."
  type PaymentEvent {
    "The billing event's id (the same id its webhook delivery carries)."
    id: ID!
    "The kind of event."
    type: PaymentEventType!
    "The billing event type as published, e.g. payment.succeeded."
    name: String!
    "The viewer."
    userId: ID!
    "The event's data (amounts in integer minor units), as billing's webhooks carry it."
    data: JSON!
    "When billing published the event."
    createdAt: DateTime!
    """
    The viewer's current subscription after the event, resolved through the supergraph when selected (one query per
    event, as the viewer): { id status currentPeriodEnd cancelAtPeriodEnd plan { code name } price { amount currency } }.
    """
    subscription: JSON
  }

  "Whether an audited action succeeded."
  enum AuditOutcome {
    "It happened."
    SUCCESS
    "It was refused or failed."
    FAILURE
  }

  "A row written to the audit trail by any service."
  type AuditEvent {
    "The audit row's id."
    id: ID!
    "The audited action, e.g. user.sign_in or role.assigned."
    action: String!
    "Whether the action succeeded."
    outcome: AuditOutcome!
    "Who acted, when a user did."
    actorUserId: ID
    "The administrator acting as actorUserId, when the action was taken under impersonation."
    impersonatorUserId: ID
    "The kind of object acted on, e.g. user or role."
    targetType: String
    "The id of the object acted on."
    targetId: String
    "When the row was written."
    createdAt: DateTime!
  }

  "Live events, served over graphql-ws on the GraphQL endpoint's WebSocket (not over HTTP)."
  type Subscription {
    "The viewer's sessions starting and ending (a browser signs out when its own session is revoked)."
    sessionEvents: SessionEvent!
    "The viewer's security events: new sign-ins, lockouts, MFA changes, refresh-token reuse."
    securityEvents: SecurityEvent!
    "The viewer's payment, invoice and subscription events."
    paymentEvents: PaymentEvent!
    "Every audit row as it is written. Requires the audit:read permission (FORBIDDEN otherwise)."
    auditEvents: AuditEvent!
  }
`;

/** What `PaymentEvent.subscription` reads through the supergraph. */
const SUBSCRIPTION_QUERY =
  '{ mySubscription { id status currentPeriodEnd cancelAtPeriodEnd plan { code name } price { amount currency } } }';

export function buildRealtimeSchema(): GraphQLSchema {
  return buildSchema(REALTIME_SDL);
}

/** What one connection's operations know about it. */
export interface RealtimeContext {
  readonly viewer: Viewer;
  /** A query through the federated graph as the viewer (event fields resolved from the supergraph). */
  readonly graph: (query: string) => Promise<unknown>;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  readonly maxSubscriptions: number;
  /** Called after the connection's own session's REVOKED event was sent: closes the socket. */
  readonly sessionEnded: () => void;
  /** Counts the connection's open sessionEvents streams (while one is open, it closes the socket itself). */
  readonly sessionStreams: { open: number };
  readonly onOverflow: () => void;
}

/**
 * A stable id for events published without one (identity's MFA events): the same on every connection and
 * gateway replica, so clients can de-duplicate.
 */
function eventId(topic: string, payload: unknown): string {
  return createHash('sha256')
    .update(topic)
    .update('\n')
    .update(JSON.stringify(payload))
    .digest('base64url')
    .slice(0, 27);
}

const PAYMENT_TYPES = new Set([
  'PAYMENT_SUCCEEDED',
  'PAYMENT_FAILED',
  'PAYMENT_REFUNDED',
  'INVOICE_CREATED',
  'INVOICE_PAID',
  'SUBSCRIPTION_CREATED',
  'SUBSCRIPTION_UPDATED',
  'SUBSCRIPTION_CANCELED',
  'SUBSCRIPTION_SUSPENDED',
]);

function paymentType(name: string): string {
  const type = name.replace(/\./g, '_').toUpperCase();
  return PAYMENT_TYPES.has(type) ? type : 'OTHER';
}

/** graphql-js's default subscribe resolver calls these with the connection's context as the second argument. */
type SubscribeRoot = (args: unknown, context: RealtimeContext) => AsyncIterableIterator<unknown>;

/**
 * The root values graphql-ws passes to execution. Each subscription field is a function returning an iterator of
 * `{ [field]: payload }` (the default field resolver then picks the payload), filtered to the viewer.
 */
export function realtimeRoots(bus: Pick<EventBus, 'subscribe'>) {
  // Filtered before buffering (`select`), so another user's events never occupy a viewer's buffer; the topic is
  // passed along because identity's MFA payloads do not name their type.
  const eventsOf = <T>(options: Omit<BusEventIteratorOptions<T>, 'subscribe' | 'maxBuffered'>) =>
    new BusEventIterator<T>({
      ...options,
      subscribe: (topic, handler) => bus.subscribe(topic, handler),
      maxBuffered: MAX_PENDING_EVENTS,
    });

  const sessionEvents: SubscribeRoot = (_args, context) => {
    const { viewer } = context;
    type Item = { sessionEvents: Record<string, unknown>; endsConnection: boolean };
    context.sessionStreams.open += 1;
    const stream = eventsOf<Item>({
      topics: Object.values(SESSION_TOPICS),
      onOverflow: context.onOverflow,
      select(topic, raw) {
        const parsed = sessionEventPayload.safeParse(raw);
        if (!parsed.success || parsed.data.userId !== viewer.userId) return undefined;
        const event = parsed.data;
        const type = topic === SESSION_TOPICS.REVOKED ? 'REVOKED' : 'CREATED';
        const current = viewer.sessionId !== undefined && event.sessionId === viewer.sessionId;
        return {
          sessionEvents: {
            id: event.id ?? eventId(topic, raw),
            type,
            userId: event.userId,
            sessionId: event.sessionId,
            current,
            reason: event.reason ?? null,
            device: event.device ?? null,
            location: event.location ?? null,
            at: event.at,
          },
          endsConnection: type === 'REVOKED' && current,
        };
      },
      afterDelivered(item) {
        if (item.endsConnection) context.sessionEnded();
        return item.endsConnection;
      },
      onFinish() {
        context.sessionStreams.open -= 1;
      },
    });
    return stream;
  };

  const securityEvents: SubscribeRoot = (_args, { viewer, onOverflow }) =>
    eventsOf({
      topics: Object.keys(SECURITY_TOPICS),
      onOverflow,
      select(topic, raw) {
        const parsed = securityEventPayload.safeParse(raw);
        if (!parsed.success || parsed.data.userId !== viewer.userId) return undefined;
        const { id, userId, sessionId, at, ...details } = parsed.data;
        return {
          securityEvents: {
            id: id ?? eventId(topic, raw),
            type: SECURITY_TOPICS[topic as keyof typeof SECURITY_TOPICS],
            userId,
            sessionId: sessionId ?? null,
            details,
            at,
          },
        };
      },
    });

  const paymentEvents: SubscribeRoot = (_args, { viewer, graph, onOverflow }) =>
    eventsOf({
      topics: [BILLING_EVENTS_TOPIC],
      onOverflow,
      select(_topic, raw) {
        const parsed = billingEventPayload.safeParse(raw);
        if (!parsed.success || parsed.data.userId !== viewer.userId) return undefined;
        const event = parsed.data;
        return {
          paymentEvents: {
            id: event.id,
            type: paymentType(event.type),
            name: event.type,
            userId: event.userId,
            data: event.data,
            createdAt: event.createdAt,
            // A function: graphql-js's default resolver calls it only when the client selects the field.
            subscription: async () =>
              ((await graph(SUBSCRIPTION_QUERY)) as { mySubscription?: unknown } | null)?.mySubscription ??
              null,
          },
        };
      },
    });

  const auditEvents: SubscribeRoot = (_args, { viewer, onOverflow }) => {
    // The token's claim, not a live lookup: the gateway has no database, and the connection ends when the token
    // expires, so a revoked permission stops the stream within one access-token lifetime.
    if (!viewer.permissions?.includes(AUDIT_READ_PERMISSION)) {
      throw new GraphQLError('The audit:read permission is required', {
        extensions: { code: ErrorCode.FORBIDDEN },
      });
    }
    return eventsOf({
      topics: [AUDIT_EVENTS_TOPIC],
      onOverflow,
      select(_topic, raw) {
        const parsed = auditEventPayload.safeParse(raw);
        return parsed.success ? { auditEvents: parsed.data } : undefined;
      },
    });
  };

  return {
    query: {
      connection: (_args: unknown, context: RealtimeContext) => ({
        userId: context.viewer.userId,
        sessionId: context.viewer.sessionId ?? null,
        expiresAt: new Date(context.expiresAt).toISOString(),
        maxSubscriptions: context.maxSubscriptions,
      }),
    },
    subscription: { sessionEvents, securityEvents, paymentEvents, auditEvents },
  };
}
