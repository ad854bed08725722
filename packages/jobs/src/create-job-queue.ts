import { type JobQueue, type JobQueueLogger } from './job-queue';
import { MemoryJobQueue } from './memory-job-queue';
import { RedisJobQueue } from './redis-job-queue';

export interface CreateJobQueueOptions {
  /** When set, jobs live in Redis (BullMQ): durable and shared by every replica. Otherwise in-process. */
  redisUrl?: string;
  /** Redis key namespace (see {@link RedisJobQueue}). Ignored in-process. */
  prefix?: string;
  logger?: JobQueueLogger;
}

/**
 * Redis when `redisUrl` is given, otherwise the in-process queue of the embedded single-process deployment
 * (jobs pending at shutdown are lost there).
 */
export function createJobQueue(options: CreateJobQueueOptions = {}): JobQueue {
  const { redisUrl, prefix, logger } = options;
  if (redisUrl) return new RedisJobQueue({ redisUrl, prefix, logger });
  return new MemoryJobQueue({ logger });
}
