import type { JobQueue } from './job-queue';

/** How often every replica makes sure today's job is queued. */
export const DAILY_JOB_CHECK_INTERVAL_MS = 60 * 60_000;

export interface DailyEnqueueOptions<T> {
  jobQueue: Pick<JobQueue, 'enqueue'>;
  /** The job name (its processor is registered separately). */
  name: string;
  /** The job's payload for a UTC day (`YYYY-MM-DD`). */
  payload(day: string): T;
  logger: { warn(details: object, message: string): void };
  /** Default hourly ({@link DAILY_JOB_CHECK_INTERVAL_MS}). */
  intervalMs?: number;
  /** Tries of one day's job. Default 3. */
  attempts?: number;
  /** Wait before retrying a failed run, doubled for the next. Default one minute. */
  retryBackoffMs?: number;
  now?: () => Date;
}

export interface DailyEnqueue {
  /** Enqueues today's job unless it is queued already (what the timer does). @returns the job id. */
  enqueueToday(): Promise<string>;
  /** Stops the timer (a queued or running job is not affected). */
  stop(): void;
}

/** The job id of `name` on the UTC day of `at`: one per day, whichever replica enqueues it. */
export function dailyJobId(name: string, at: Date): string {
  return `${name}-${at.toISOString().slice(0, 10)}`;
}

/**
 * Runs a job once a day through the queue: every replica checks at start and then every `intervalMs`, enqueuing the
 * current UTC day's job under a fixed id (`<name>-YYYY-MM-DD`), so the queue holds it once however many replicas ask
 * and whichever worker takes it runs it. A failure to enqueue is logged and retried at the next check.
 */
export function startDailyEnqueue<T>(options: DailyEnqueueOptions<T>): DailyEnqueue {
  const { jobQueue, name, logger } = options;
  const now = options.now ?? (() => new Date());
  const intervalMs = options.intervalMs ?? DAILY_JOB_CHECK_INTERVAL_MS;
  if (!(intervalMs > 0)) throw new RangeError('intervalMs must be positive');

  const enqueueToday = () => {
    const at = now();
    return jobQueue.enqueue<T>(name, options.payload(at.toISOString().slice(0, 10)), {
      jobId: dailyJobId(name, at),
      attempts: options.attempts ?? 3,
      backoffMs: options.retryBackoffMs ?? 60_000,
    });
  };
  const tick = () => {
    enqueueToday().catch((err: unknown) =>
      logger.warn({ err, job: name }, 'could not enqueue the daily job; trying again at the next check'),
    );
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return { enqueueToday, stop: () => clearInterval(timer) };
}
