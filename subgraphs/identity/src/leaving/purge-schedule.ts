import { dailyJobId, startDailyEnqueue, type JobQueue } from '@gatehouse/jobs';
import type { LeavingLogger, LeavingService } from './leaving.service';

/** Job name of the daily purge of deleted accounts. */
export const ACCOUNT_PURGE_JOB = 'account-purge';
/** How often each replica checks whether today's purge job is queued. */
export const PURGE_CHECK_INTERVAL_MS = 60 * 60 * 1000;

/** Data of an {@link ACCOUNT_PURGE_JOB} job. */
export interface AccountPurgeJob {
  /** The UTC day the job was queued for, `YYYY-MM-DD`. */
  day: string;
}

/**
 * `account-purge-<YYYY-MM-DD>` (UTC): every replica enqueuing on the same day adds the one job. (The job queue
 * refuses `:` in job ids, so not `account-purge:<day>`.)
 */
export function purgeJobId(at: Date): string {
  return dailyJobId(ACCOUNT_PURGE_JOB, at);
}

export interface PurgeScheduleOptions {
  jobQueue: JobQueue;
  leaving: Pick<LeavingService, 'purgeDeleted'>;
  logger: LeavingLogger;
  /** How often to make sure today's job is queued. Default hourly ({@link PURGE_CHECK_INTERVAL_MS}). */
  intervalMs?: number;
  /** Wait before retrying a failed run, doubled for the next. Default one minute. */
  retryBackoffMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

/** The running schedule. */
export interface PurgeSchedule {
  /** Enqueues today's job unless it is known already (what the timer does). @returns the job id. */
  enqueueToday(): Promise<string>;
  /** Stops the timer (running jobs finish; the processor stays registered until the queue closes). */
  stop(): void;
}

/**
 * Runs {@link LeavingService.purgeDeleted} once a day through the job queue: every replica checks hourly (and at
 * start) and enqueues the job of the current UTC day under a fixed job id, so the queue holds it once however many
 * replicas ask; whichever replica's worker takes it runs the purge. A run that purged some users but failed for
 * others throws, so the job is retried (the purge is idempotent) and ends up in the failed jobs when it keeps
 * failing. Registers the job's processor: call once per job queue.
 */
export function startPurgeSchedule(options: PurgeScheduleOptions): PurgeSchedule {
  const { jobQueue, leaving, logger } = options;
  jobQueue.process<AccountPurgeJob>(ACCOUNT_PURGE_JOB, async (job, context) => {
    const result = await leaving.purgeDeleted();
    logger.info?.({ ...result, day: job.day, attempt: context.attempt }, 'leaving: daily purge finished');
    if (result.failed > 0) {
      throw new Error(`purging ${result.failed} deleted account(s) failed; see the earlier errors`);
    }
  });
  return startDailyEnqueue<AccountPurgeJob>({
    jobQueue,
    name: ACCOUNT_PURGE_JOB,
    payload: (day) => ({ day }),
    logger,
    intervalMs: options.intervalMs ?? PURGE_CHECK_INTERVAL_MS,
    ...(options.retryBackoffMs === undefined ? {} : { retryBackoffMs: options.retryBackoffMs }),
    ...(options.now ? { now: options.now } : {}),
  });
}
