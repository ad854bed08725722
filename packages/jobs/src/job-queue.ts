/**
 * Background work that must not be lost: emails, webhook deliveries, cleanups.
 *
 * Jobs are at-least-once: a handler can run again after a crash or a failed attempt, so handlers must be
 * idempotent. Job data travels as JSON in every implementation (Dates arrive as ISO strings).
 */
export interface JobQueue {
  /**
   * Adds a job for the handler registered under `name` (in this or any other process sharing the queue).
   * @returns the job id; with `jobId`, the id of the already-known job when one exists (nothing is added).
   */
  enqueue<T>(name: string, data: T, options?: EnqueueOptions): Promise<string>;
  /**
   * Registers the one handler for `name` and starts processing its jobs, including those enqueued earlier.
   * A handler that throws or rejects is retried with exponential backoff until its attempts are used up;
   * the job is then kept as failed (see {@link JobQueue.failedJobs}).
   */
  process<T>(name: string, handler: JobHandler<T>, options?: ProcessOptions): void;
  /** Jobs of `name` that used up their attempts, most recent first. */
  failedJobs(name: string, options?: { limit?: number }): Promise<FailedJob[]>;
  /**
   * Jobs waiting to run (ready or delayed, retries included; not those running), per job name this queue has
   * enqueued or processed: the queue-depth metric. A backlog that keeps growing means the workers fall behind.
   */
  depths(): Promise<Record<string, number>>;
  /** Resolves when the backing store is reachable; rejects otherwise (used by health checks). */
  ping(): Promise<void>;
  /** Stops taking new jobs, waits for running handlers to finish, then releases connections. Idempotent. */
  close(): Promise<void>;
}

export interface EnqueueOptions {
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** Total tries including the first. Default {@link DEFAULT_ATTEMPTS}. */
  attempts?: number;
  /** Wait before the first retry; doubled for each further one. Default {@link DEFAULT_BACKOFF_MS}. */
  backoffMs?: number;
  /**
   * Idempotency key: while a job with this id is known (waiting, running, failed, or completed within the
   * retention window), enqueueing it again adds nothing. Must not be an integer or contain ':'.
   */
  jobId?: string;
}

export interface ProcessOptions {
  /** Jobs of this name run at the same time in this process. Default 1. */
  concurrency?: number;
}

export type JobHandler<T> = (data: T, context: JobContext) => Promise<void>;

export interface JobContext {
  id: string;
  name: string;
  /** 1 for the first try. */
  attempt: number;
}

export interface FailedJob {
  id: string;
  name: string;
  data: unknown;
  attemptsMade: number;
  /** The last error's message. */
  error: string;
  failedAt: Date;
}

/** The part of a pino logger this package uses. */
export interface JobQueueLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** Used without a logger: final failures and errors still surface, retries stay quiet. */
export const CONSOLE_JOB_LOGGER: JobQueueLogger = {
  warn: () => undefined,
  error: (details, message) => console.error(message, details),
};

export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 1000;
/** Completed jobs remembered for `jobId` de-duplication. */
export const COMPLETED_JOBS_KEPT = 1000;

/** Checks and fills in options identically for every implementation. */
export function resolveEnqueueOptions(
  name: string,
  data: unknown,
  options: EnqueueOptions,
): { json: string; delayMs: number; attempts: number; backoffMs: number; jobId: string | undefined } {
  assertJobName(name);
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`data of job "${name}" is not JSON-serialisable`);
  const { delayMs = 0, attempts = DEFAULT_ATTEMPTS, backoffMs = DEFAULT_BACKOFF_MS, jobId } = options;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`delayMs must be >= 0, got ${delayMs}`);
  if (!Number.isSafeInteger(attempts) || attempts < 1) {
    throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
  }
  if (!Number.isFinite(backoffMs) || backoffMs < 0)
    throw new RangeError(`backoffMs must be >= 0, got ${backoffMs}`);
  if (jobId !== undefined && (jobId === '' || jobId.includes(':') || /^\d+$/.test(jobId))) {
    // BullMQ's own rules: numeric ids collide with its generated ids, ':' breaks its key layout.
    throw new RangeError(`jobId must be non-empty, not an integer and without ':', got "${jobId}"`);
  }
  return { json, delayMs: Math.round(delayMs), attempts, backoffMs: Math.round(backoffMs), jobId };
}

export function assertJobName(name: string): void {
  if (name === '' || name.includes(':'))
    throw new RangeError(`job name must be non-empty and without ':', got "${name}"`);
}

/**
 * Checks a process() call identically for every implementation. `registered` says whether this queue already
 * has a handler for `name`: one handler per name, so two cannot race for the same jobs.
 */
export function resolveProcessOptions(
  name: string,
  options: ProcessOptions,
  registered: boolean,
): { concurrency: number } {
  assertJobName(name);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  if (registered) throw new Error(`a handler for job "${name}" is already registered`);
  return { concurrency };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
