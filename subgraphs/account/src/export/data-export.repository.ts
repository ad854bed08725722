import type { Prisma, PrismaClient } from '@gatehouse/db';
import type { DataExportFailure } from './error-codes';

/** Lifecycle of an export: PENDING -> RUNNING -> READY -> EXPIRED, or FAILED. */
export type DataExportStatus = 'PENDING' | 'RUNNING' | 'READY' | 'FAILED' | 'EXPIRED';

/** A `data_exports` row as the service sees it. */
export interface DataExportRecord {
  id: string;
  userId: string;
  status: DataExportStatus;
  storageKey: string | null;
  sizeBytes: number | null;
  error: string | null;
  requestedAt: Date;
  completedAt: Date | null;
  expiresAt: Date | null;
}

const columns = {
  id: true,
  userId: true,
  status: true,
  storageKey: true,
  sizeBytes: true,
  error: true,
  requestedAt: true,
  completedAt: true,
  expiresAt: true,
} as const;

/** What {@link DataExportRepository.create} found instead of creating a row. */
export type CreateExportResult =
  | { status: 'CREATED'; export: DataExportRecord }
  | { status: 'USER_NOT_FOUND' }
  | { status: 'IN_PROGRESS' }
  | { status: 'RATE_LIMITED'; lastRequestedAt: Date };

/** Who asked for an export, for its `audit_logs` row (the user is both actor and target). */
export interface ExportRequestAudit {
  action: string;
  userId: string;
  exportId: string;
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

/** The only code that touches `data_exports` (and writes the request's audit entry). */
export interface DataExportRepository {
  /**
   * Creates a PENDING export unless the user has one PENDING/RUNNING (requested after `stalledBefore`; older ones
   * are marked FAILED/STALLED first) or requested one that did not fail after `rateLimitSince`. Serialised per user
   * by a transaction-scoped advisory lock, so two simultaneous requests cannot both pass the checks.
   */
  create(
    userId: string,
    at: Date,
    limits: { rateLimitSince: Date; stalledBefore: Date },
  ): Promise<CreateExportResult>;
  findById(id: string): Promise<DataExportRecord | null>;
  /** Newest first. */
  listByUser(userId: string, limit: number): Promise<DataExportRecord[]>;
  /**
   * PENDING, RUNNING (an interrupted attempt) or FAILED (a retry) -> RUNNING, clearing the error.
   * @returns false when the export is READY, EXPIRED or gone: nothing left to do.
   */
  claim(id: string): Promise<boolean>;
  /** RUNNING -> READY. @returns false when the row is no longer RUNNING. */
  markReady(
    id: string,
    result: { storageKey: string; sizeBytes: number; completedAt: Date; expiresAt: Date },
  ): Promise<boolean>;
  /** Any state but READY/EXPIRED -> FAILED with a step code. */
  markFailed(id: string, failure: DataExportFailure): Promise<void>;
  /** READY exports whose `expiresAt` is at or before `at`, oldest first. */
  findExpired(at: Date, limit: number): Promise<DataExportRecord[]>;
  /** READY -> EXPIRED (the document is gone). @returns false when the row was not READY. */
  markExpired(id: string): Promise<boolean>;
  /** One SUCCESS `audit_logs` row for a request; client fields cut to their column sizes. */
  recordRequestAudit(entry: ExportRequestAudit): Promise<void>;
}

/** The Prisma implementation of {@link DataExportRepository}. */
export function createDataExportRepository(prisma: PrismaClient): DataExportRepository {
  return {
    async create(userId, at, { rateLimitSince, stalledBefore }) {
      return prisma.$transaction(async (tx) => {
        // Per-user mutex until commit; the namespace string keeps it apart from other advisory locks.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`data-export:${userId}`}, 0))`;
        const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
        if (!user) return { status: 'USER_NOT_FOUND' } as const;

        await tx.dataExport.updateMany({
          where: { userId, status: { in: ['PENDING', 'RUNNING'] }, requestedAt: { lt: stalledBefore } },
          data: { status: 'FAILED', error: 'STALLED' satisfies DataExportFailure },
        });
        const inProgress = await tx.dataExport.count({
          where: { userId, status: { in: ['PENDING', 'RUNNING'] } },
        });
        if (inProgress > 0) return { status: 'IN_PROGRESS' } as const;
        // A failed export was our fault, so it does not count against the user.
        const recent = await tx.dataExport.findFirst({
          where: { userId, status: { not: 'FAILED' }, requestedAt: { gt: rateLimitSince } },
          select: { requestedAt: true },
          orderBy: { requestedAt: 'desc' },
        });
        if (recent) return { status: 'RATE_LIMITED', lastRequestedAt: recent.requestedAt } as const;

        const created = await tx.dataExport.create({
          data: { userId, status: 'PENDING', requestedAt: at },
          select: columns,
        });
        return { status: 'CREATED', export: created } as const;
      });
    },

    findById: (id) => prisma.dataExport.findUnique({ where: { id }, select: columns }),

    listByUser: (userId, limit) =>
      prisma.dataExport.findMany({
        where: { userId },
        select: columns,
        orderBy: [{ requestedAt: 'desc' }, { id: 'desc' }],
        take: limit,
      }),

    async claim(id) {
      const { count } = await prisma.dataExport.updateMany({
        where: { id, status: { in: ['PENDING', 'RUNNING', 'FAILED'] } },
        data: { status: 'RUNNING', error: null },
      });
      return count === 1;
    },

    async markReady(id, result) {
      const { count } = await prisma.dataExport.updateMany({
        where: { id, status: 'RUNNING' },
        data: { status: 'READY', error: null, ...result },
      });
      return count === 1;
    },

    async markFailed(id, failure) {
      await prisma.dataExport.updateMany({
        where: { id, status: { in: ['PENDING', 'RUNNING', 'FAILED'] } },
        data: { status: 'FAILED', error: failure },
      });
    },

    findExpired: (at, limit) =>
      prisma.dataExport.findMany({
        where: { status: 'READY', expiresAt: { lte: at } },
        select: columns,
        orderBy: [{ expiresAt: 'asc' }, { id: 'asc' }],
        take: limit,
      }),

    async markExpired(id) {
      const { count } = await prisma.dataExport.updateMany({
        where: { id, status: 'READY' },
        data: { status: 'EXPIRED' },
      });
      return count === 1;
    },

    async recordRequestAudit({ action, userId, exportId, ip, userAgent, requestId }) {
      const metadata: Prisma.InputJsonObject = { outcome: 'SUCCESS', exportId };
      await prisma.auditLog.create({
        data: {
          action,
          actorUserId: userId,
          targetType: 'User',
          targetId: userId,
          ipAddress: ip?.slice(0, 64) ?? null,
          userAgent: userAgent?.slice(0, 512) ?? null,
          requestId: requestId.slice(0, 128),
          metadata,
        },
        select: { id: true },
      });
    },
  };
}
