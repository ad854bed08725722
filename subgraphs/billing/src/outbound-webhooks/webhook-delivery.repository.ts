import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import type { Prisma, PrismaClient } from '@gatehouse/db';
import { keysetAfter, type KeysetPosition } from '@gatehouse/service';
import type { EndpointScope } from './webhook-endpoint.repository';

/** The client the fan-out writes run on: the pool (autocommit) or one transaction of the billing write unit. */
type DeliveryDb = Prisma.TransactionClient;

export type WebhookDeliveryRowStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

/** One delivery as the log shows it. */
export interface WebhookDeliveryRow {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: WebhookDeliveryRowStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  responseStatus: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** What an attempt needs: the stored payload and the endpoint it goes to. */
export interface DeliveryToSend {
  payload: Prisma.JsonValue;
  eventId: string;
  endpoint: { id: string; url: string; active: boolean; secretEncrypted: string };
}

/** The event written as one PENDING delivery per matching endpoint. */
export interface DeliveryFanOut {
  eventId: string;
  eventType: string;
  userId: string | null;
  /** The JSON body receivers get. */
  payload: string;
  at: Date;
}

export interface AttemptOutcome {
  status: WebhookDeliveryRowStatus;
  responseStatus: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt?: Date;
}

/** The writes that fan an event out to endpoints, inside a transaction. */
export interface WebhookDeliveryFanOutUnit {
  /**
   * One PENDING row per active endpoint of the event's user and per platform endpoint, subscribed to the type
   * or to all; (endpoint, event id) is unique, so an event written again adds nothing. Returns the new ids.
   */
  insertForEvent(event: DeliveryFanOut): Promise<string[]>;
}

/** The writes of an admin replay, inside one transaction. */
export interface WebhookDeliveryReplayUnit {
  /** Locks the row (`FOR UPDATE`) and returns its status before the replay; null when there is none. */
  lockForReplay(id: string): Promise<{ status: string; attemptCount: number } | null>;
  /** Back to PENDING, attempt count 0, due at `at`, last result cleared. */
  resetForReplay(id: string, at: Date): Promise<WebhookDeliveryRow>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: AuditEntry): Promise<void>;
}

export interface WebhookDeliveryRepository {
  /** Runs `work` in one transaction: the replay and its audit entry commit together or not at all. */
  transaction<T>(work: (unit: WebhookDeliveryReplayUnit) => Promise<T>): Promise<T>;
  /** The fan-out writes on their own (autocommit). */
  insertForEvent(event: DeliveryFanOut): Promise<string[]>;
  /**
   * Claims due PENDING rows (`only`: just that one) in one statement: SKIP LOCKED keeps concurrent claimers
   * apart; `next_attempt_at` moves to `leaseUntil` and `attempt_count` is counted at the claim.
   */
  claimDue(
    at: Date,
    leaseUntil: Date,
    limit: number,
    only: string | null,
  ): Promise<{ id: string; attempt: number }[]>;
  findToSend(id: string): Promise<DeliveryToSend | null>;
  /** Stores an attempt's result unless the row moved on since the claim (replay, lease taken over). */
  recordOutcome(id: string, attemptNumber: number, outcome: AttemptOutcome): Promise<boolean>;
  /** The PENDING deliveries of an event (written by a fan-out in another feature's transaction). */
  pendingIdsOfEvent(eventId: string): Promise<string[]>;
  endpointExists(id: string, scope: EndpointScope): Promise<boolean>;
  /** Newest first, after `position` when given, at most `take`. */
  listForEndpoint(
    endpointId: string,
    filter: { status: WebhookDeliveryRowStatus | null; position: KeysetPosition | null; take: number },
  ): Promise<WebhookDeliveryRow[]>;
}

const DELIVERY_SELECT = {
  id: true,
  endpointId: true,
  eventId: true,
  eventType: true,
  status: true,
  attemptCount: true,
  nextAttemptAt: true,
  lastAttemptAt: true,
  responseStatus: true,
  lastError: true,
  deliveredAt: true,
  createdAt: true,
} as const satisfies Prisma.WebhookDeliverySelect;

async function insertForEvent(db: DeliveryDb, event: DeliveryFanOut): Promise<string[]> {
  const { at } = event;
  const rows = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO "webhook_deliveries"
      (endpoint_id, event_id, event_type, payload, status, next_attempt_at, created_at, updated_at)
    SELECT e.id, ${event.eventId}, ${event.eventType}, ${event.payload}::jsonb, 'PENDING',
           ${at}::timestamptz, ${at}::timestamptz, ${at}::timestamptz
    FROM "webhook_endpoints" AS e
    WHERE e.active
      AND (e.user_id IS NULL OR e.user_id = ${event.userId}::uuid)
      AND (cardinality(e.event_types) = 0 OR ${event.eventType} = ANY(e.event_types))
    ORDER BY e.created_at, e.id
    ON CONFLICT (endpoint_id, event_id) DO NOTHING
    RETURNING id`;
  return rows.map((row) => row.id);
}

function createReplayUnit(tx: Prisma.TransactionClient): WebhookDeliveryReplayUnit {
  const audit = createAuditWriter(tx);
  return {
    async lockForReplay(id) {
      const [previous] = await tx.$queryRaw<{ status: string; attempt_count: number }[]>`
        SELECT status, attempt_count FROM "webhook_deliveries" WHERE id = ${id}::uuid FOR UPDATE`;
      return previous ? { status: previous.status, attemptCount: Number(previous.attempt_count) } : null;
    },
    resetForReplay: (id, at) =>
      tx.webhookDelivery.update({
        where: { id },
        data: {
          status: 'PENDING',
          attemptCount: 0,
          nextAttemptAt: at,
          responseStatus: null,
          lastError: null,
          deliveredAt: null,
        },
        select: DELIVERY_SELECT,
      }),
    audit: (entry) => audit.record(entry),
  };
}

/**
 * The fan-out writes inside one transaction of the billing write unit (`billing.repository.ts`): a payment's
 * deliveries commit with the payment.
 */
export function createWebhookDeliveryFanOutUnit(tx: Prisma.TransactionClient): WebhookDeliveryFanOutUnit {
  return { insertForEvent: (event) => insertForEvent(tx, event) };
}

export function createWebhookDeliveryRepository(prisma: PrismaClient): WebhookDeliveryRepository {
  return {
    transaction: (work) => prisma.$transaction((tx) => work(createReplayUnit(tx))),
    insertForEvent: (event) => insertForEvent(prisma, event),
    async claimDue(at, leaseUntil, limit, only) {
      const rows = await prisma.$queryRaw<{ id: string; attempt_count: number }[]>`
        WITH due AS (
          SELECT id FROM "webhook_deliveries"
          WHERE status = 'PENDING' AND next_attempt_at <= ${at}::timestamptz
            AND (${only}::uuid IS NULL OR id = ${only}::uuid)
          ORDER BY next_attempt_at, id
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED
        )
        UPDATE "webhook_deliveries" AS d
        SET attempt_count = d.attempt_count + 1, last_attempt_at = ${at}::timestamptz,
            next_attempt_at = ${leaseUntil}::timestamptz, updated_at = ${at}::timestamptz
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.attempt_count`;
      return rows.map((row) => ({ id: row.id, attempt: Number(row.attempt_count) }));
    },
    findToSend: (id) =>
      prisma.webhookDelivery.findUnique({
        where: { id },
        select: {
          payload: true,
          eventId: true,
          endpoint: { select: { id: true, url: true, active: true, secretEncrypted: true } },
        },
      }),
    async recordOutcome(id, attemptNumber, outcome) {
      const { count } = await prisma.webhookDelivery.updateMany({
        where: { id, status: 'PENDING', attemptCount: attemptNumber },
        data: outcome,
      });
      return count === 1;
    },
    async pendingIdsOfEvent(eventId) {
      const pending = await prisma.webhookDelivery.findMany({
        where: { eventId, status: 'PENDING' },
        select: { id: true },
      });
      return pending.map((delivery) => delivery.id);
    },
    async endpointExists(id, scope) {
      const endpoint = await prisma.webhookEndpoint.findFirst({
        where: { id, ...scope },
        select: { id: true },
      });
      return endpoint !== null;
    },
    listForEndpoint: (endpointId, { status, position, take }) =>
      prisma.webhookDelivery.findMany({
        where: {
          endpointId,
          ...(status ? { status } : {}),
          ...keysetAfter(position),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take,
        select: DELIVERY_SELECT,
      }),
  };
}
