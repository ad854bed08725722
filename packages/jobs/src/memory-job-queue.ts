import { randomUUID } from 'node:crypto';
import {
  COMPLETED_JOBS_KEPT,
  CONSOLE_JOB_LOGGER,
  errorMessage,
  resolveEnqueueOptions,
  resolveProcessOptions,
  type EnqueueOptions,
  type FailedJob,
  type JobHandler,
  type JobQueue,
  type JobQueueLogger,
  type ProcessOptions,
} from './job-queue';

export interface MemoryJobQueueOptions {
  /** Receives failed attempts; without it, final failures go to console.error. */
  logger?: JobQueueLogger;
  /** Failed jobs kept per name for {@link JobQueue.failedJobs}; older ones are forgotten. Default 1000. */
  failedJobsKept?: number;
}

interface Job {
  id: string;
  name: string;
  /** JSON, decoded afresh for every attempt so a handler cannot leak changes into its retry. */
  json: string;
  attempts: number;
  backoffMs: number;
  attemptsMade: number;
}

interface Lane {
  handler?: JobHandler<unknown>;
  concurrency: number;
  running: number;
  /** Waiting for their delay (or their retry's backoff). */
  delayed: number;
  ready: Job[];
  failed: FailedJob[];
}

/**
 * In-process {@link JobQueue} for the embedded single-process deployment and for tests.
 * Same retry, delay and de-duplication rules as the Redis queue, but jobs live in memory:
 * anything not yet finished when the process stops is lost.
 */
export class MemoryJobQueue implements JobQueue {
  private readonly lanes = new Map<string, Lane>();
  /** Every job id still known, for jobId de-duplication: waiting, delayed, running or failed jobs. */
  private readonly known = new Set<string>();
  /** Completed ids in completion order, trimmed to COMPLETED_JOBS_KEPT, also for de-duplication. */
  private readonly completed = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly logger: JobQueueLogger;
  private readonly failedJobsKept: number;
  private closed = false;

  constructor(options: MemoryJobQueueOptions = {}) {
    this.logger = options.logger ?? CONSOLE_JOB_LOGGER;
    this.failedJobsKept = options.failedJobsKept ?? 1000;
  }

  async enqueue<T>(name: string, data: T, options: EnqueueOptions = {}): Promise<string> {
    this.assertOpen();
    const { json, delayMs, attempts, backoffMs, jobId } = resolveEnqueueOptions(name, data, options);
    if (jobId !== undefined && (this.known.has(jobId) || this.completed.has(jobId))) return jobId;
    const job: Job = { id: jobId ?? randomUUID(), name, json, attempts, backoffMs, attemptsMade: 0 };
    this.known.add(job.id);
    this.schedule(job, delayMs);
    return job.id;
  }

  process<T>(name: string, handler: JobHandler<T>, options: ProcessOptions = {}): void {
    this.assertOpen();
    const { concurrency } = resolveProcessOptions(name, options, this.lanes.get(name)?.handler !== undefined);
    const lane = this.lane(name);
    lane.handler = handler as JobHandler<unknown>;
    lane.concurrency = concurrency;
    this.pump(lane);
  }

  async failedJobs(name: string, { limit = 100 }: { limit?: number } = {}): Promise<FailedJob[]> {
    return (this.lanes.get(name)?.failed ?? []).slice(-limit).reverse();
  }

  async depths(): Promise<Record<string, number>> {
    return Object.fromEntries(
      [...this.lanes].map(([name, lane]) => [name, lane.ready.length + lane.delayed]),
    );
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      const unfinished = [...this.lanes.values()].reduce((sum, lane) => sum + lane.ready.length, 0);
      if (unfinished > 0)
        this.logger.warn({ jobs: unfinished }, 'jobs: in-process queue closed with jobs pending');
    }
    // Wait for handlers already running; none start after closing.
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private lane(name: string): Lane {
    let lane = this.lanes.get(name);
    if (!lane) {
      lane = { concurrency: 1, running: 0, delayed: 0, ready: [], failed: [] };
      this.lanes.set(name, lane);
    }
    return lane;
  }

  /** Makes `job` ready after `delayMs`, never earlier (timers may fire a little early; re-arm then). */
  private schedule(job: Job, delayMs: number): void {
    const dueAt = Date.now() + delayMs;
    const lane = this.lane(job.name);
    const arm = (wait: number): void => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const remaining = dueAt - Date.now();
        if (remaining > 0) return arm(remaining);
        lane.delayed--;
        this.makeReady(job);
      }, wait);
      this.timers.add(timer);
    };
    if (delayMs > 0) {
      lane.delayed++;
      arm(delayMs);
    } else this.makeReady(job);
  }

  private makeReady(job: Job): void {
    const lane = this.lane(job.name);
    lane.ready.push(job);
    this.pump(lane);
  }

  private pump(lane: Lane): void {
    while (!this.closed && lane.handler && lane.running < lane.concurrency) {
      const job = lane.ready.shift();
      if (!job) return;
      lane.running++;
      const run = this.run(job, lane.handler).finally(() => {
        lane.running--;
        this.running.delete(run);
        this.pump(lane);
      });
      this.running.add(run);
    }
  }

  private async run(job: Job, handler: JobHandler<unknown>): Promise<void> {
    const attempt = job.attemptsMade + 1;
    try {
      await handler(JSON.parse(job.json), { id: job.id, name: job.name, attempt });
    } catch (error) {
      job.attemptsMade = attempt;
      if (attempt < job.attempts) {
        this.logger.warn(
          { err: error, jobId: job.id, job: job.name, attempt },
          'jobs: attempt failed, will retry',
        );
        if (!this.closed) this.schedule(job, job.backoffMs * 2 ** (attempt - 1));
        return;
      }
      this.recordFailure(job, error);
      return;
    }
    this.known.delete(job.id);
    this.completed.add(job.id);
    if (this.completed.size > COMPLETED_JOBS_KEPT) {
      this.completed.delete(this.completed.values().next().value as string);
    }
  }

  private recordFailure(job: Job, error: unknown): void {
    this.logger.error(
      { err: error, jobId: job.id, job: job.name, attemptsMade: job.attemptsMade },
      'jobs: job failed after its last attempt',
    );
    const failed = this.lane(job.name).failed;
    failed.push({
      id: job.id,
      name: job.name,
      data: JSON.parse(job.json),
      attemptsMade: job.attemptsMade,
      error: errorMessage(error),
      failedAt: new Date(),
    });
    if (failed.length > this.failedJobsKept) {
      const [forgotten] = failed.splice(0, 1);
      if (forgotten) this.known.delete(forgotten.id);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryJobQueue is closed');
  }
}
