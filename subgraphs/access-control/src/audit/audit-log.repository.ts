import { containsPattern, Prisma, type PrismaClient } from '@gatehouse/db';
import type { AuditOutcome } from '@gatehouse/audit';

/** A validated filter over audit_logs (see `parseAuditLogFilter`). Every member narrows the result (AND). */
export interface AuditLogFilter {
  actorUserId?: string;
  impersonatorUserId?: string;
  /** Any of these actions. */
  actions?: string[];
  targetType?: string;
  targetId?: string;
  outcome?: AuditOutcome;
  /** Inclusive lower bound of `created_at`. */
  from?: Date;
  /** Exclusive upper bound of `created_at`. */
  to?: Date;
  /** Case-insensitive substring of the action, target id, IP, user agent, request id or metadata. */
  search?: string;
}

/** Position after which a page starts: the (created_at, id) of the last row already seen. */
export interface AuditLogPosition {
  createdAt: Date;
  id: string;
}

/** One audit_logs row. */
export interface AuditLogRow {
  id: string;
  createdAt: Date;
  actorUserId: string | null;
  impersonatorUserId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
}

/**
 * Read-only access to audit_logs. There is deliberately no update or delete: the audit trail is append-only
 * through every API (rows are written by `@gatehouse/audit`).
 */
export interface AuditLogRepository {
  /** Up to `limit` rows matching `filter`, newest first (created_at DESC, id DESC), strictly after `after`. */
  page(filter: AuditLogFilter, limit: number, after?: AuditLogPosition): Promise<AuditLogRow[]>;
}

function whereClause(filter: AuditLogFilter, after?: AuditLogPosition): Prisma.Sql {
  const conditions: Prisma.Sql[] = [];
  if (filter.actorUserId !== undefined)
    conditions.push(Prisma.sql`actor_user_id = ${filter.actorUserId}::uuid`);
  if (filter.impersonatorUserId !== undefined) {
    conditions.push(Prisma.sql`impersonator_user_id = ${filter.impersonatorUserId}::uuid`);
  }
  if (filter.actions !== undefined) conditions.push(Prisma.sql`action = ANY(${filter.actions}::text[])`);
  if (filter.targetType !== undefined) conditions.push(Prisma.sql`target_type = ${filter.targetType}`);
  if (filter.targetId !== undefined) conditions.push(Prisma.sql`target_id = ${filter.targetId}`);
  if (filter.outcome !== undefined) conditions.push(Prisma.sql`metadata->>'outcome' = ${filter.outcome}`);
  if (filter.from !== undefined) conditions.push(Prisma.sql`created_at >= ${filter.from}::timestamptz`);
  if (filter.to !== undefined) conditions.push(Prisma.sql`created_at < ${filter.to}::timestamptz`);
  if (filter.search !== undefined) {
    const pattern = containsPattern(filter.search);
    const like = (column: Prisma.Sql) => Prisma.sql`${column} ILIKE ${pattern} ESCAPE '!'`;
    conditions.push(
      Prisma.sql`(${Prisma.join(
        [
          like(Prisma.sql`action`),
          like(Prisma.sql`target_id`),
          like(Prisma.sql`ip_address`),
          like(Prisma.sql`user_agent`),
          like(Prisma.sql`request_id`),
          like(Prisma.sql`metadata::text`),
        ],
        ' OR ',
      )})`,
    );
  }
  if (after !== undefined) {
    // The plain bound lets PostgreSQL prune the monthly partitions; the row comparison is the exact keyset.
    conditions.push(Prisma.sql`created_at <= ${after.createdAt}::timestamptz`);
    conditions.push(Prisma.sql`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
  }
  return conditions.length === 0 ? Prisma.empty : Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}`;
}

/**
 * A pg pool (the Database's `pool`), structurally: reading through it skips Prisma's row conversion, which roughly
 * halves the time of a large export.
 */
export interface AuditQueryPool {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * The audit log repository (keyset pagination over the partitioned table), on Prisma's raw SQL or, when given,
 * directly on the pg pool under it. Both return the same rows.
 */
export function createAuditLogRepository(
  prisma: Pick<PrismaClient, '$queryRaw'>,
  pool?: AuditQueryPool,
): AuditLogRepository {
  return {
    async page(filter, limit, after) {
      const query = Prisma.sql`
        SELECT id::text AS "id", created_at AS "createdAt", actor_user_id::text AS "actorUserId",
               impersonator_user_id::text AS "impersonatorUserId", action, target_type AS "targetType",
               target_id AS "targetId", ip_address AS "ipAddress", user_agent AS "userAgent",
               request_id AS "requestId", metadata
          FROM audit_logs
          ${whereClause(filter, after)}
         ORDER BY created_at DESC, id DESC
         LIMIT ${limit}`;
      if (pool === undefined) return prisma.$queryRaw<AuditLogRow[]>(query);
      return (await pool.query(query.text, query.values)).rows as AuditLogRow[];
    },
  };
}
