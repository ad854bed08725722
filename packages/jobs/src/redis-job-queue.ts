import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  assertJobName,
  COMPLETED_JOBS_KEPT,
  CONSOLE_JOB_LOGGER,
  resolveEnqueueOptions,
  resolveProcessOptions,
  type EnqueueOptions,
  type FailedJob,
  type JobHandler,
  type JobQueue,
  type JobQueueLogger,
  type ProcessOptions,
} from './job-queue';

export interface RedisJobQueueOptions {
  /** redis:// or rediss:// URL. */
  redisUrl: string;
  /** Namespace for BullMQ keys: `<prefix>:jobs:<name>:…`. Default `gatehouse`. */
  prefix?: string;
  /** How long ping() waits before reporting Redis unreachable. Default 2000 ms. */
  pingTimeoutMs?: number;
  /** Receives failed attempts and connection errors; without it, errors go to console.error. */
  logger?: JobQueueLogger;
}

/**
 * {@link JobQueue} on BullMQ: jobs survive restarts and are shared by every replica.
 *
 * One BullMQ queue (and, where processed, one worker) per job name rather than one queue of named jobs:
 * each name gets its own concurrency, and a backlog of slow jobs (say, webhook retries) cannot hold up
 * another kind (say, password-reset emails). Job names are few, so the extra connections are cheap.
 */
export class RedisJobQueue implements JobQueue {
  private readonly redisUrl: string;
  private readonly bullPrefix: string;
  private readonly pingTimeoutMs: number;
  private readonly logger: JobQueueLogger;
  /**
   * Shared by every producer Queue. It keeps ioredis' default bounded retries, so enqueue() fails when Redis
   * is down instead of hanging a request; workers get their own connections, which must retry forever.
   */
  private readonly connection: Redis;
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Worker>();
  private closing: Promise<void> | undefined;

  constructor(options: RedisJobQueueOptions) {
    this.redisUrl = options.redisUrl;
    this.bullPrefix = `${options.prefix ?? 'gatehouse'}:jobs`;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
    // BullMQ's Queue and Worker are EventEmitters: an 'error' event without a listener would crash the process.
    this.logger = options.logger ?? CONSOLE_JOB_LOGGER;
    this.connection = new Redis(options.redisUrl, { connectionName: 'gatehouse-jobs' });
    this.connection.on('error', (error: Error) =>
      this.logger.error({ err: error }, 'jobs: redis connection error'),
    );
  }

  async enqueue<T>(name: string, data: T, options: EnqueueOptions = {}): Promise<string> {
    this.assertOpen();
    const { json, delayMs, attempts, backoffMs, jobId } = resolveEnqueueOptions(name, data, options);
    const job = await this.queue(name).add(name, JSON.parse(json), {
      jobId,
      delay: delayMs,
      attempts,
      backoff: { type: 'exponential', delay: backoffMs },
      // The last COMPLETED_JOBS_KEPT completed jobs per name stay, so a repeated jobId is still recognised;
      // failed jobs stay until an operator removes them, so nothing is lost.
      removeOnComplete: { count: COMPLETED_JOBS_KEPT },
      removeOnFail: false,
    });
    return job.id as string;
  }

  process<T>(name: string, handler: JobHandler<T>, options: ProcessOptions = {}): void {
    this.assertOpen();
    const { concurrency } = resolveProcessOptions(name, options, this.workers.has(name));
    const worker = new Worker(
      name,
      async (job: Job) =>
        handler(job.data as T, { id: job.id as string, name, attempt: job.attemptsMade + 1 }),
      // Options rather than a shared client: BullMQ then owns (and closes) the worker's two connections and
      // sets maxRetriesPerRequest: null on them, as blocking commands require.
      {
        connection: { url: this.redisUrl, connectionName: `gatehouse-jobs-worker-${name}` },
        prefix: this.bullPrefix,
        concurrency,
      },
    );
    worker.on('failed', (job, error) => {
      if (!job) return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1);
      const details = { err: error, jobId: job.id, job: name, attempt: job.attemptsMade };
      if (final) this.logger.error(details, 'jobs: job failed after its last attempt');
      else this.logger.warn(details, 'jobs: attempt failed, will retry');
    });
    worker.on('error', (error) => this.logger.error({ err: error, job: name }, 'jobs: worker error'));
    this.workers.set(name, worker);
  }

  async depths(): Promise<Record<string, number>> {
    const entries = await Promise.all(
      [...this.queues].map(async ([name, queue]) => {
        const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized');
        return [name, (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0)] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  async failedJobs(name: string, { limit = 100 }: { limit?: number } = {}): Promise<FailedJob[]> {
    assertJobName(name);
    const jobs = await this.queue(name).getFailed(0, limit - 1);
    return jobs.map((job) => ({
      id: job.id as string,
      name: job.name,
      data: job.data as unknown,
      attemptsMade: job.attemptsMade,
      error: job.failedReason,
      failedAt: new Date(job.finishedOn ?? job.timestamp),
    }));
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`jobs: redis did not answer PING within ${this.pingTimeoutMs} ms`)),
        this.pingTimeoutMs,
      );
    });
    try {
      await Promise.race([this.connection.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Workers first: Worker.close() lets running handlers finish and takes no new jobs.
      await Promise.all([...this.workers.values()].map((worker) => worker.close()));
      await Promise.all([...this.queues.values()].map((queue) => queue.close()));
      await this.connection.quit().then(
        () => undefined,
        () => this.connection.disconnect(),
      );
    })();
    return this.closing;
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.bullPrefix });
      queue.on('error', (error) => this.logger.error({ err: error, job: name }, 'jobs: queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('RedisJobQueue is closed');
  }
}
