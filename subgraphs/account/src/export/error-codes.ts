import { RateLimitError } from '@gatehouse/errors';

/**
 * Reasons the data export attaches to errors as `extensions.details.reason`, next to `extensions.code`.
 * Stable across releases: clients switch on them.
 */
export const DataExportErrorCode = {
  /** An export of this user is PENDING or RUNNING: one at a time (code CONFLICT). */
  DATA_EXPORT_IN_PROGRESS: 'DATA_EXPORT_IN_PROGRESS',
  /** An export was requested less than 24 hours ago (code RATE_LIMITED, with `retryAfterSeconds`). */
  DATA_EXPORT_RATE_LIMITED: 'DATA_EXPORT_RATE_LIMITED',
  /** No such user (code NOT_FOUND). */
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  /** The job queue refused the export job; nothing was started (code SERVICE_UNAVAILABLE). */
  DATA_EXPORT_UNAVAILABLE: 'DATA_EXPORT_UNAVAILABLE',
} as const;

export type DataExportErrorCode = (typeof DataExportErrorCode)[keyof typeof DataExportErrorCode];

/**
 * What `data_exports.error` holds after a failure: the step that failed, never a message (messages of
 * database or storage errors can quote personal values).
 */
export const DataExportFailure = {
  /** Reading the user's data failed. */
  GATHER_FAILED: 'GATHER_FAILED',
  /** Writing the document to object storage (or signing its URL) failed. */
  STORE_FAILED: 'STORE_FAILED',
  /** Queueing the notification mail failed. */
  NOTIFY_FAILED: 'NOTIFY_FAILED',
  /** The job queue refused the job when the export was requested. */
  ENQUEUE_FAILED: 'ENQUEUE_FAILED',
  /** PENDING or RUNNING for too long (the job was lost, e.g. with an in-process queue on restart). */
  STALLED: 'STALLED',
  /** Anything else (e.g. the database failed while recording the result). */
  EXPORT_FAILED: 'EXPORT_FAILED',
} as const;

export type DataExportFailure = (typeof DataExportFailure)[keyof typeof DataExportFailure];

/** One export request a day: `details` carries the reason and when to try again. */
export class DataExportRateLimitError extends RateLimitError {
  declare readonly details: {
    reason: typeof DataExportErrorCode.DATA_EXPORT_RATE_LIMITED;
    retryAfterSeconds: number;
  };

  constructor(message: string, retryAfterSeconds: number) {
    super(message, { retryAfterSeconds });
    this.details = { reason: DataExportErrorCode.DATA_EXPORT_RATE_LIMITED, retryAfterSeconds };
  }
}
