import type { JobQueue } from '@gatehouse/jobs';
import { DATA_EXPORT_JOB, type DataExportJob, type DataExportService } from './data-export.service';

/** Job name of the cleanup that removes expired export documents; schedule it daily (data `{}`). */
export const DATA_EXPORT_EXPIRE_JOB = 'data-export-expire';

export interface RegisterDataExportJobOptions {
  jobQueue: Pick<JobQueue, 'process'>;
  service: Pick<DataExportService, 'run' | 'expireOld'>;
  logger?: { info(details: object, message: string): void };
  /** Exports built at the same time by this process. Default 1: each holds a whole document in memory. */
  concurrency?: number;
}

/**
 * Registers the handlers of {@link DATA_EXPORT_JOB} (`service.run`) and {@link DATA_EXPORT_EXPIRE_JOB}
 * (`service.expireOld`). Both are idempotent, as at-least-once jobs must be. Call once per process that
 * should build exports.
 */
export function registerDataExportJob(options: RegisterDataExportJobOptions): void {
  const { jobQueue, service, logger } = options;
  jobQueue.process<DataExportJob>(DATA_EXPORT_JOB, (data) => service.run(data.exportId), {
    concurrency: options.concurrency ?? 1,
  });
  jobQueue.process<Record<string, never>>(DATA_EXPORT_EXPIRE_JOB, async () => {
    const { expired } = await service.expireOld();
    logger?.info({ expired }, 'data export: expiry sweep done');
  });
}
