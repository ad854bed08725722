import { ensureAuditLogPartitions, type PrismaClient } from '@gatehouse/db';
import { dailyJobId, startDailyEnqueue, type JobQueue } from '@gatehouse/jobs';

/** Job name of the daily check that audit_logs has its monthly partitions. */
export const AUDIT_PARTITIONS_JOB = 'audit-partitions';
/** How often each replica checks whether today's partition job is queued. */
export const AUDIT_PARTITIONS_CHECK_INTERVAL_MS = 60 * 60 * 1000;
/** Months after the current one that get their partition ahead of time, by default. */
export const DEFAULT_AUDIT_PARTITION_MONTHS_AHEAD = 3;

/** Data of an {@link AUDIT_PARTITIONS_JOB} job. */
export interface AuditPartitionsJob {
  /** The UTC day the job was queued for, `YYYY-MM-DD`. */
  day: string;
  monthsAhead: number;
}

/**
 * `audit-partitions-<YYYY-MM-DD>` (UTC): every replica enqueuing on the same day adds the one job. (The job queue
 * refuses `:` in job ids.)
 */
export function auditPartitionsJobId(at: Date): string {
  return dailyJobId(AUDIT_PARTITIONS_JOB, at);
}

/** The part of a pino logger the schedule uses. */
export interface AuditScheduleLogger {
  info?(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/** The pg pool `ensureAuditLogPartitions` takes (the Database's `pool`; its search_path selects the schema). */
export type AuditPartitionPool = Parameters<typeof ensureAuditLogPartitions>[0];

/** Where to create the partitions: a pg pool, or Prisma (its raw queries use the same search_path). */
export type AuditPartitionDatabase =
  { pool: AuditPartitionPool } | { prisma: Pick<PrismaClient, '$queryRaw'> };

export type AuditPartitionScheduleOptions = AuditPartitionDatabase & {
  jobQueue: JobQueue;
  logger: AuditScheduleLogger;
  /** Months after the current UTC month to keep partitions for. Default 3 (integer, 0..120). */
  monthsAhead?: number;
  /** How often to make sure today's job is queued. Default hourly ({@link AUDIT_PARTITIONS_CHECK_INTERVAL_MS}). */
  intervalMs?: number;
  /** Wait before retrying a failed run, doubled for the next. Default one minute. */
  retryBackoffMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
};

/** The running schedule. */
export interface AuditPartitionSchedule {
  /** Enqueues today's job unless it is known already (what the timer does). @returns the job id. */
  enqueueToday(): Promise<string>;
  /** Stops the timer (running jobs finish; the processor stays registered until the queue closes). */
  stop(): void;
}

/** Creates the missing partitions through the SQL function `ensure_audit_log_partitions`. @returns their names. */
async function ensurePartitions(database: AuditPartitionDatabase, monthsAhead: number): Promise<string[]> {
  if ('pool' in database) return (await ensureAuditLogPartitions(database.pool, { monthsAhead })).created;
  const rows = await database.prisma.$queryRaw<Array<{ name: string }>>`
    SELECT ensure_audit_log_partitions(${monthsAhead}::int) AS name`;
  return rows.map((row) => row.name);
}

/**
 * Keeps audit_logs partitioned ahead of time: every replica checks hourly (and at start) and enqueues the job of
 * the current UTC day under a fixed job id, so the queue holds it once however many replicas ask; whichever
 * replica's worker takes it creates the partitions of this month through `monthsAhead` months ahead that are
 * missing (idempotent, serialised in the database by an advisory lock). Rows never fail for want of a partition
 * (they land in the default partition); this keeps them out of it. Registers the job's processor: call once per
 * job queue.
 */
export function startAuditPartitionSchedule(options: AuditPartitionScheduleOptions): AuditPartitionSchedule {
  const { jobQueue, logger } = options;
  const database: AuditPartitionDatabase =
    'pool' in options ? { pool: options.pool } : { prisma: options.prisma };
  const monthsAhead = options.monthsAhead ?? DEFAULT_AUDIT_PARTITION_MONTHS_AHEAD;
  if (!Number.isInteger(monthsAhead) || monthsAhead < 0 || monthsAhead > 120) {
    throw new RangeError(`monthsAhead must be an integer in 0..120, got ${monthsAhead}`);
  }

  jobQueue.process<AuditPartitionsJob>(AUDIT_PARTITIONS_JOB, async (job, context) => {
    const created = await ensurePartitions(database, job.monthsAhead);
    logger.info?.(
      { created, day: job.day, monthsAhead: job.monthsAhead, attempt: context.attempt },
      'audit: partitions ensured',
    );
  });
  return startDailyEnqueue<AuditPartitionsJob>({
    jobQueue,
    name: AUDIT_PARTITIONS_JOB,
    payload: (day) => ({ day, monthsAhead }),
    logger,
    intervalMs: options.intervalMs ?? AUDIT_PARTITIONS_CHECK_INTERVAL_MS,
    ...(options.retryBackoffMs === undefined ? {} : { retryBackoffMs: options.retryBackoffMs }),
    ...(options.now ? { now: options.now } : {}),
  });
}
