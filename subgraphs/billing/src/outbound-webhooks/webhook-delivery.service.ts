import type { AuditActorFields } from '@gatehouse/audit';
import type { EnvelopeCipher } from '@gatehouse/crypto';
import type { Prisma } from '@gatehouse/db';
import { AppError, ErrorCode, NotFoundError } from '@gatehouse/errors';
import type { JobQueue } from '@gatehouse/jobs';
import { decodeKeysetCursor, encodeKeysetCursor, isUuid, type KeysetPosition } from '@gatehouse/service';
import type { LookupFunction } from 'node:net';
import { z } from 'zod';
import { WebhookErrorCode } from './error-codes';
import { isWebhookEventType, type WebhookEventType } from './event-types';
import { postWebhook, type PostOutcome } from './http-delivery';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhookPayload } from './signature';
import { checkWebhookUrl, guardedLookup, type WebhookUrlPolicy } from './url-policy';
import type {
  DeliveryToSend,
  WebhookDeliveryFanOutUnit,
  WebhookDeliveryRepository,
} from './webhook-delivery.repository';
import {
  WebhookAuditAction,
  badInput,
  endpointNotFound,
  endpointScope,
  webhookSecretAad,
  type WebhookAccess,
} from './webhook-endpoint.service';

/** Job name of one delivery attempt; data {@link WebhookDeliveryJob}, job id the delivery id (first attempt). */
export const WEBHOOK_DELIVERY_JOB = 'webhook-delivery';

export interface WebhookDeliveryJob {
  deliveryId: string;
}

/**
 * Wait after failed attempt n (index n-1) before attempt n+1: 1 min, 5 min, 30 min, 2 h, 6 h, 12 h. Seven
 * attempts over about 21 hours; a delivery failing the last one is FAILED (replayable by an admin).
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  60_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  6 * 3_600_000,
  12 * 3_600_000,
];

export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Response bytes kept in `last_error`: enough to debug a receiver, not enough to store its pages. */
export const WEBHOOK_MAX_RESPONSE_BYTES = 1024;
export const WEBHOOK_USER_AGENT = 'Gatehouse-Webhooks/1';

export type WebhookDeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

/** An event to send: `data` must be JSON (what receivers get as `data`). */
export interface WebhookEvent {
  /** Stable id (e.g. the payment id + transition): publishing the same id twice delivers once per endpoint. */
  id: string;
  type: WebhookEventType;
  /** The account the event is about: its owner's endpoints get it. Null: platform endpoints only. */
  userId: string | null;
  data: Prisma.InputJsonObject;
  createdAt: Date;
}

/** The JSON body POSTed to receivers. */
export interface WebhookPayload {
  id: string;
  type: string;
  /** Unix seconds of the event. */
  created: number;
  data: unknown;
}

/** One delivery in the log. */
export interface WebhookDeliveryView {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: WebhookDeliveryStatus;
  attemptCount: number;
  /** When the next attempt is due (PENDING only). */
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  /** HTTP status of the last answer; null when none came (timeout, connection refused, refused address). */
  responseStatus: number | null;
  /** Why the last attempt failed: `HTTP <status>: <first 1 KiB of the body>` or a transport error. */
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

export interface WebhookDeliveryConnection {
  edges: { cursor: string; node: WebhookDeliveryView }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** What one attempt came to (for logs and tests). */
export interface WebhookAttemptResult {
  deliveryId: string;
  attempt: number;
  status: WebhookDeliveryStatus;
  responseStatus: number | null;
}

export interface WebhookDeliveryService {
  /**
   * Records one PENDING delivery per matching active endpoint (the event user's endpoints and platform
   * endpoints, subscribed to the type or to all) and queues a delivery job for each (job id = delivery id).
   * Idempotent: (endpoint, event id) is unique, so publishing the same event again adds and queues nothing.
   *
   * With `unit`, the rows are written in the caller's write unit (they commit or roll back with the state change
   * they announce) and no job is queued: call {@link WebhookDeliveryService.enqueue} with the ids after commit,
   * or leave them to {@link WebhookDeliveryService.deliverDue}.
   */
  publish(event: WebhookEvent, unit?: WebhookDeliveryFanOutUnit): Promise<{ deliveryIds: string[] }>;
  /** Queues delivery jobs for rows written by `publish(event, unit)`. */
  enqueue(deliveryIds: readonly string[]): Promise<void>;
  /**
   * The job: attempts `deliveryId` if it is PENDING and due (otherwise does nothing and returns null).
   * Claimed with FOR UPDATE SKIP LOCKED, so a job and a sweep never send the same attempt twice.
   */
  deliver(deliveryId: string): Promise<WebhookAttemptResult | null>;
  /**
   * The sweep: attempts every PENDING delivery due at `at` (default now), at most `limit` (default 50). Covers
   * jobs lost with Redis or the in-process queue; safe to run concurrently (each row goes to one sweep).
   */
  deliverDue(at?: Date, options?: { limit?: number }): Promise<WebhookAttemptResult[]>;
  /**
   * Admin: sends a delivery again, whatever its status: back to PENDING, attempt count reset (a full retry
   * schedule), due now, queued. Audit-logged (WEBHOOK_DELIVERY_REPLAYED) in the same transaction.
   * @throws NotFoundError (WEBHOOK_DELIVERY_NOT_FOUND).
   */
  replay(deliveryId: string, actor?: AuditActorFields): Promise<WebhookDeliveryView>;
  /**
   * An endpoint's delivery log, newest first. `first` 1-100 (default 20).
   * @throws NotFoundError (WEBHOOK_ENDPOINT_NOT_FOUND) when `access` may not see the endpoint.
   */
  deliveries(
    access: WebhookAccess,
    endpointId: string,
    page?: { first?: number; after?: string | null; status?: WebhookDeliveryStatus | null },
  ): Promise<WebhookDeliveryConnection>;
}

/** The part of a pino logger this module uses. */
export interface WebhookLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface WebhookDeliveryServiceOptions extends WebhookUrlPolicy {
  deliveries: WebhookDeliveryRepository;
  jobQueue: Pick<JobQueue, 'enqueue'>;
  cipher: EnvelopeCipher;
  logger?: WebhookLogger;
  /** Clock (tests). Default: the system clock. */
  now?: () => Date;
  /** Waits between attempts; its length + 1 is the number of attempts. Default {@link DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS}. */
  retrySchedule?: readonly number[];
  /** Per attempt, connection to last byte. Default 10 s. */
  timeoutMs?: number;
  /** DNS resolution (tests pin names to addresses). Default Node's `dns.lookup`. */
  lookup?: LookupFunction;
  /** Attempts made at the same time by one sweep. Default 4. */
  sweepConcurrency?: number;
}

const SILENT_LOGGER: WebhookLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: (details, message) => console.error(message, details),
};

const eventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.string().refine(isWebhookEventType, 'Unknown event type'),
  userId: z.uuid().nullable(),
  data: z.record(z.string(), z.unknown()),
  createdAt: z.date(),
});

const pageSchema = z.object({
  first: z.number().int().min(1).max(100).default(20),
  after: z.string().max(200).nullish(),
  status: z.enum(['PENDING', 'DELIVERED', 'FAILED']).nullish(),
});

function decodeCursor(cursor: string): KeysetPosition {
  const position = decodeKeysetCursor(cursor);
  if (!position) throw badInput(WebhookErrorCode.WEBHOOK_CURSOR_INVALID, 'The cursor is not valid');
  return position;
}

/** Postgres text cannot hold NUL; receivers' bodies are arbitrary bytes. */
function storable(text: string): string {
  // eslint-disable-next-line no-control-regex -- removing NUL is the point
  return text.replace(/\u0000/g, '');
}

/** Deliveries, retries, the sweep, replay and the delivery log; see {@link WebhookDeliveryService}. */
export function createWebhookDeliveryService(options: WebhookDeliveryServiceOptions): WebhookDeliveryService {
  const { deliveries: records, jobQueue, cipher } = options;
  const logger = options.logger ?? SILENT_LOGGER;
  const now = options.now ?? (() => new Date());
  const schedule = options.retrySchedule ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS;
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const sweepConcurrency = options.sweepConcurrency ?? 4;
  const policy: WebhookUrlPolicy = {
    allowHttp: options.allowHttp ?? false,
    allowPrivateNetworks: options.allowPrivateNetworks ?? false,
  };
  const lookup = policy.allowPrivateNetworks ? options.lookup : guardedLookup(options.lookup);
  if (schedule.some((ms) => !Number.isFinite(ms) || ms < 0)) throw new RangeError('retrySchedule: ms >= 0');

  async function queueJob(deliveryId: string, jobId: string, delayMs: number): Promise<void> {
    try {
      await jobQueue.enqueue<WebhookDeliveryJob>(
        WEBHOOK_DELIVERY_JOB,
        { deliveryId },
        { jobId, delayMs, attempts: 1 },
      );
    } catch (error) {
      // The row is PENDING with its due time: the sweep delivers it even without the job.
      logger.warn({ deliveryId, err: error }, 'webhook: could not queue delivery job; left to the sweep');
    }
  }

  async function enqueue(deliveryIds: readonly string[]): Promise<void> {
    for (const id of deliveryIds) await queueJob(id, id, 0);
  }

  /**
   * Claims due PENDING rows in one statement: SKIP LOCKED keeps concurrent claimers apart, and moving
   * `next_attempt_at` to a lease (beyond the attempt's timeout) keeps the row from being claimed again after
   * commit. A worker that dies mid-attempt leaves the row to be retried when the lease ends (at-least-once).
   * `attempt_count` is counted at the claim, so a payload that crashes the worker still runs out of attempts.
   */
  async function claim(
    at: Date,
    limit: number,
    deliveryId?: string,
  ): Promise<{ id: string; attempt: number }[]> {
    const leaseUntil = new Date(at.getTime() + timeoutMs * Math.ceil(limit / sweepConcurrency) + 60_000);
    return records.claimDue(at, leaseUntil, limit, deliveryId === undefined ? null : deliveryId);
  }

  async function send(delivery: DeliveryToSend): Promise<PostOutcome> {
    const { endpoint } = delivery;
    if (!endpoint.active) return { kind: 'error', message: 'Endpoint is disabled' };
    const check = checkWebhookUrl(endpoint.url, policy);
    if (!check.ok) return { kind: 'error', message: check.message };
    let secret: string;
    try {
      secret = cipher.decrypt(endpoint.secretEncrypted, webhookSecretAad(endpoint.id)).toString('utf8');
    } catch (error) {
      logger.error({ endpointId: endpoint.id, err: error }, 'webhook: signing secret does not decrypt');
      return { kind: 'error', message: 'Signing secret unavailable' };
    }
    const body = JSON.stringify(delivery.payload);
    const timestamp = Math.floor(now().getTime() / 1000);
    return postWebhook({
      url: check.url,
      body,
      timeoutMs,
      maxResponseBytes: WEBHOOK_MAX_RESPONSE_BYTES,
      ...(lookup ? { lookup } : {}),
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': WEBHOOK_USER_AGENT,
        [SIGNATURE_HEADER]: signWebhookPayload(secret, body, timestamp),
        [EVENT_ID_HEADER]: delivery.eventId,
      },
    });
  }

  async function attempt(id: string, attemptNumber: number): Promise<WebhookAttemptResult> {
    const delivery = await records.findToSend(id);
    if (!delivery) return { deliveryId: id, attempt: attemptNumber, status: 'FAILED', responseStatus: null };
    const outcome = await send(delivery);
    const at = now();
    const ok = outcome.kind === 'response' && outcome.status >= 200 && outcome.status < 300;
    const responseStatus = outcome.kind === 'response' ? outcome.status : null;
    const retryIn = schedule[attemptNumber - 1];
    const status: WebhookDeliveryStatus = ok ? 'DELIVERED' : retryIn === undefined ? 'FAILED' : 'PENDING';
    const nextAttemptAt = status === 'PENDING' ? new Date(at.getTime() + retryIn!) : null;
    const lastError = ok
      ? null
      : storable(
          outcome.kind === 'response' ? `HTTP ${outcome.status}: ${outcome.body}`.trimEnd() : outcome.message,
        );
    // Guarded by the claimed attempt: a replay (or a lease taken over) since the claim wins over this result.
    const recorded = await records.recordOutcome(id, attemptNumber, {
      status,
      responseStatus,
      lastError,
      nextAttemptAt,
      ...(ok ? { deliveredAt: at } : {}),
    });
    if (recorded && nextAttemptAt) {
      await queueJob(id, `${id}-${nextAttemptAt.getTime()}`, nextAttemptAt.getTime() - at.getTime());
    }
    const details = {
      deliveryId: id,
      endpointId: delivery.endpoint.id,
      attempt: attemptNumber,
      responseStatus,
    };
    if (ok) logger.info(details, 'webhook delivered');
    else if (status === 'FAILED') logger.warn({ ...details, lastError }, 'webhook delivery failed for good');
    else logger.info({ ...details, lastError, nextAttemptAt }, 'webhook attempt failed; will retry');
    return { deliveryId: id, attempt: attemptNumber, status, responseStatus };
  }

  return {
    async publish(event, unit) {
      const parsed = eventSchema.safeParse(event);
      if (!parsed.success) throw new TypeError(`webhook publish: invalid event (${parsed.error.message})`);
      const payload: WebhookPayload = {
        id: event.id,
        type: event.type,
        created: Math.floor(event.createdAt.getTime() / 1000),
        data: event.data,
      };
      const at = now();
      const fanOut = {
        eventId: event.id,
        eventType: event.type,
        userId: event.userId,
        payload: JSON.stringify(payload),
        at,
      };
      const deliveryIds = await (unit ?? records).insertForEvent(fanOut);
      if (!unit) await enqueue(deliveryIds);
      return { deliveryIds };
    },

    enqueue,

    async deliver(deliveryId) {
      if (!isUuid(deliveryId)) return null;
      const [claimed] = await claim(now(), 1, deliveryId);
      return claimed ? attempt(claimed.id, claimed.attempt) : null;
    },

    async deliverDue(at = now(), options = {}) {
      const limit = options.limit ?? 50;
      const claimed = await claim(at, limit);
      const results: WebhookAttemptResult[] = [];
      for (let index = 0; index < claimed.length; index += sweepConcurrency) {
        const batch = claimed.slice(index, index + sweepConcurrency);
        results.push(...(await Promise.all(batch.map((row) => attempt(row.id, row.attempt)))));
      }
      return results;
    },

    async replay(deliveryId, actor) {
      const notFound = () =>
        new NotFoundError('Webhook delivery not found', {
          details: { reason: WebhookErrorCode.WEBHOOK_DELIVERY_NOT_FOUND },
        });
      if (!isUuid(deliveryId)) throw notFound();
      const at = now();
      const row = await records.transaction(async (unit) => {
        const previous = await unit.lockForReplay(deliveryId);
        if (!previous) throw notFound();
        const updated = await unit.resetForReplay(deliveryId, at);
        await unit.audit({
          action: WebhookAuditAction.DELIVERY_REPLAYED,
          outcome: 'SUCCESS',
          ...actor,
          targetType: 'WebhookDelivery',
          targetId: deliveryId,
          metadata: {
            endpointId: updated.endpointId,
            eventId: updated.eventId,
            previousStatus: previous.status,
            previousAttemptCount: previous.attemptCount,
          },
        });
        return updated;
      });
      await queueJob(deliveryId, `${deliveryId}-replay-${at.getTime()}`, 0);
      return row;
    },

    async deliveries(access, endpointId, page = {}) {
      const parsed = pageSchema.safeParse(page);
      if (!parsed.success) {
        throw new AppError(ErrorCode.BAD_USER_INPUT, 'Invalid page', {
          details: parsed.error.issues.map((issue) => ({
            path: issue.path.join('.'),
            message: issue.message,
          })),
        });
      }
      const { first, after, status } = parsed.data;
      if (!isUuid(endpointId) || ('userId' in access && !isUuid(access.userId))) throw endpointNotFound();
      if (!(await records.endpointExists(endpointId, endpointScope(access)))) throw endpointNotFound();
      const position = after ? decodeCursor(after) : null;
      const rows = await records.listForEndpoint(endpointId, {
        status: status ?? null,
        position,
        take: first + 1,
      });
      const edges = rows.slice(0, first).map((node) => ({ cursor: encodeKeysetCursor(node), node }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },
  };
}
