export {
  COMPLETED_JOBS_KEPT,
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  type EnqueueOptions,
  type FailedJob,
  type JobContext,
  type JobHandler,
  type JobQueue,
  type JobQueueLogger,
  type ProcessOptions,
} from './job-queue';
export { MemoryJobQueue, type MemoryJobQueueOptions } from './memory-job-queue';
export { RedisJobQueue, type RedisJobQueueOptions } from './redis-job-queue';
export { createJobQueue, type CreateJobQueueOptions } from './create-job-queue';
export {
  DAILY_JOB_CHECK_INTERVAL_MS,
  dailyJobId,
  startDailyEnqueue,
  type DailyEnqueue,
  type DailyEnqueueOptions,
} from './daily-job';
