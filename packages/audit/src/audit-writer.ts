import type { Prisma, PrismaClient } from '@gatehouse/db';
import { isSecretKey } from '@gatehouse/logger';

/** Whether the audited action succeeded. Stored as `metadata.outcome` (audit_logs has no outcome column). */
export type AuditOutcome = 'SUCCESS' | 'FAILURE';

/** Every outcome, for validation and GraphQL enums. */
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['SUCCESS', 'FAILURE'];

/** JSON values only: metadata is stored as jsonb. */
export type AuditMetadataValue =
  string | number | boolean | null | AuditMetadataValue[] | { [key: string]: AuditMetadataValue };

/** One audit entry, as every subgraph records it. `A` narrows `action` to a subgraph's own list of actions. */
export interface AuditEntry<A extends string = string> {
  /** UPPER_SNAKE name of what happened, e.g. `LOGIN_SUCCEEDED`, `ROLE_GRANTED`. Stored verbatim; never rename one. */
  action: A;
  outcome: AuditOutcome;
  /** The signed-in user who acted; omitted for anonymous actions (a failed sign-in of an unknown e-mail). */
  actorUserId?: string | null;
  /** The administrator acting as `actorUserId` while impersonating them. */
  impersonatorUserId?: string | null;
  /** What was acted on, e.g. `User` / `Session` and its id. */
  targetType?: string | null;
  targetId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** When it happened, for entries written after the fact (a job); default: the database's now(). */
  at?: Date;
  /** Extra facts (a failure reason, a session id). Keys that look secret are dropped, at any depth. */
  metadata?: Record<string, AuditMetadataValue | undefined>;
}

/** Append-only writer of the audit trail. There is deliberately no way to change or remove a row through it. */
export interface AuditWriter<A extends string = string> {
  /** Inserts one row. Rejects when the database does: callers decide whether the action may proceed without it. */
  record(entry: AuditEntry<A>): Promise<void>;
}

/**
 * What the writer needs of Prisma: a `PrismaClient`, or the client of an interactive transaction, so an entry
 * can commit (or roll back) together with the change it records.
 */
export type AuditDatabase = Pick<PrismaClient, 'auditLog'> | Prisma.TransactionClient;

/** Column limits. User agents, IPs and request ids are attacker-controlled; a row keeps enough and no more. */
export const AUDIT_LIMITS = {
  action: 100,
  ip: 64,
  userAgent: 512,
  requestId: 128,
  targetType: 64,
  targetId: 256,
  /** Longest string kept inside metadata; longer ones are cut and end with `…`. */
  metadataString: 2048,
  /** Most items kept of an array inside metadata. */
  metadataArray: 100,
  /** Deeper metadata is replaced by `[Too deep]`. */
  metadataDepth: 8,
} as const;

const ACTION_PATTERN = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Drops secret-named keys (same rule as the logger's redaction) and undefined values at any depth, and cuts
 * long strings and arrays ({@link AUDIT_LIMITS}) so one entry cannot bloat the trail.
 */
export function sanitizeAuditMetadata(value: AuditMetadataValue, depth = 0): AuditMetadataValue {
  if (depth > AUDIT_LIMITS.metadataDepth) return '[Too deep]';
  if (Array.isArray(value)) {
    return value.slice(0, AUDIT_LIMITS.metadataArray).map((item) => sanitizeAuditMetadata(item, depth + 1));
  }
  if (value !== null && typeof value === 'object') {
    const result: Record<string, AuditMetadataValue> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined || isSecretKey(key)) continue;
      result[key] = sanitizeAuditMetadata(item, depth + 1);
    }
    return result;
  }
  if (typeof value === 'string' && value.length > AUDIT_LIMITS.metadataString) {
    return `${value.slice(0, AUDIT_LIMITS.metadataString - 1)}…`;
  }
  return value;
}

const truncate = (value: string | null | undefined, max: number): string | null =>
  value === undefined || value === null ? null : value.slice(0, max);

/** A user id column value: a UUID, or null (audit_logs' user columns are uuid; anything else would fail the insert). */
function userIdColumn(value: string | null | undefined, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (!UUID_PATTERN.test(value)) throw new TypeError(`audit entry: ${field} must be a UUID`);
  return value;
}

/**
 * The audit trail writer every subgraph uses. Rows go into `audit_logs` (range-partitioned by month; rows outside
 * every monthly partition land in the default partition, see {@link startAuditPartitionSchedule}). The outcome is
 * stored as `metadata.outcome` and always wins over a caller's `metadata.outcome`.
 *
 * @throws TypeError from `record` (before any I/O) when `action` is not UPPER_SNAKE or a user id is not a UUID:
 * those are programming errors, not something a request can cause.
 */
export function createAuditWriter<A extends string = string>(prisma: AuditDatabase): AuditWriter<A> {
  return {
    async record(entry) {
      if (entry.action.length > AUDIT_LIMITS.action || !ACTION_PATTERN.test(entry.action)) {
        throw new TypeError(
          `audit entry: action must be UPPER_SNAKE (at most ${AUDIT_LIMITS.action} characters)`,
        );
      }
      if (entry.outcome !== 'SUCCESS' && entry.outcome !== 'FAILURE') {
        throw new TypeError('audit entry: outcome must be SUCCESS or FAILURE');
      }
      const metadata = sanitizeAuditMetadata({
        ...(entry.metadata as Record<string, AuditMetadataValue>),
        outcome: entry.outcome,
      });
      await prisma.auditLog.create({
        data: {
          ...(entry.at === undefined ? {} : { createdAt: entry.at }),
          action: entry.action,
          actorUserId: userIdColumn(entry.actorUserId, 'actorUserId'),
          impersonatorUserId: userIdColumn(entry.impersonatorUserId, 'impersonatorUserId'),
          targetType: truncate(entry.targetType, AUDIT_LIMITS.targetType),
          targetId: truncate(entry.targetId, AUDIT_LIMITS.targetId),
          ipAddress: truncate(entry.ip, AUDIT_LIMITS.ip),
          userAgent: truncate(entry.userAgent, AUDIT_LIMITS.userAgent),
          requestId: truncate(entry.requestId, AUDIT_LIMITS.requestId),
          metadata: metadata as Prisma.InputJsonObject,
        },
        select: { id: true },
      });
    },
  };
}

/** The part of the authenticated caller the audit trail records (structurally `@gatehouse/service`'s Viewer). */
export interface AuditViewer {
  userId: string;
  /** Set while an administrator impersonates `userId`: the administrator's id. */
  impersonatorUserId?: string | null;
}

/** The request facts the audit trail records (structurally `@gatehouse/service`'s ClientInfo). */
export interface AuditClient {
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

/** The "who and from where" fields of an {@link AuditEntry}. */
export type AuditActorFields = Pick<
  AuditEntry,
  'actorUserId' | 'impersonatorUserId' | 'ip' | 'userAgent' | 'requestId'
>;

/**
 * Who acted and from where, ready to spread into an {@link AuditEntry}: the viewer (null when anonymous) as the
 * actor, the impersonating administrator when there is one, and the client's IP, user agent and request id.
 * `impersonatorUserId` overrides the viewer's (for a Viewer type that does not carry it yet).
 *
 * @example audit.record({ action: 'ROLE_GRANTED', outcome: 'SUCCESS', ...auditFieldsFromViewer(ctx.viewer, client) })
 */
export function auditFieldsFromViewer(
  viewer: AuditViewer | null | undefined,
  client?: AuditClient | null,
  impersonatorUserId?: string | null,
): AuditActorFields {
  return {
    actorUserId: viewer?.userId ?? null,
    impersonatorUserId: impersonatorUserId ?? viewer?.impersonatorUserId ?? null,
    ip: client?.ip ?? null,
    userAgent: client?.userAgent ?? null,
    requestId: client?.requestId ?? null,
  };
}
