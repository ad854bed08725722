import { ConflictError, NotFoundError, ServiceUnavailableError } from '@gatehouse/errors';
import type { JobQueue } from '@gatehouse/jobs';
import type { Mailer } from '@gatehouse/mail';
import { isUuid } from '@gatehouse/service';
import { MAX_SIGNED_URL_SECONDS, type ObjectStorage } from '@gatehouse/storage';
import type { DataExportRecord, DataExportRepository, DataExportStatus } from './data-export.repository';
import { DataExportErrorCode, DataExportFailure, DataExportRateLimitError } from './error-codes';
import { gatherUserData, type UserDataExportReader } from './user-data';

/** Job name of the export job; its data is {@link DataExportJob} and its job id the export id. */
export const DATA_EXPORT_JOB = 'data-export';

/** Data of a {@link DATA_EXPORT_JOB} job. */
export interface DataExportJob {
  exportId: string;
}

/** A document stays downloadable for seven days after it is ready (also the longest S3 presigned URL). */
export const DATA_EXPORT_TTL_SECONDS = MAX_SIGNED_URL_SECONDS;

/** At most one export request per user in this window (failed exports do not count). */
export const DATA_EXPORT_RATE_LIMIT_SECONDS = 24 * 60 * 60;

/** Written to `audit_logs.action` when a user asks for an export. */
export const DATA_EXPORT_REQUESTED_ACTION = 'DATA_EXPORT_REQUESTED';

/** Who asked, for the audit trail (structurally the identity subgraph's `ClientInfo`). */
export interface DataExportClient {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

/** An export as its owner sees it. */
export interface DataExportView {
  id: string;
  /** READY exports past `expiresAt` show as EXPIRED even before {@link DataExportService.expireOld} removed them. */
  status: DataExportStatus;
  requestedAt: Date;
  completedAt: Date | null;
  /** When the download link and the document expire. */
  expiresAt: Date | null;
  sizeBytes: number | null;
  /** A fresh signed link for READY, unexpired exports (valid until `expiresAt`); otherwise null. */
  downloadUrl: string | null;
}

/** The part of a pino logger this module uses. */
export interface DataExportLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface DataExportServiceOptions {
  /** The `data_exports` rows and the request's audit entry. */
  repository: DataExportRepository;
  /** Reads the document's data (the sanctioned multi-table GDPR reader). */
  exportReader: UserDataExportReader;
  jobQueue: Pick<JobQueue, 'enqueue'>;
  storage: ObjectStorage;
  mailer: Pick<Mailer, 'send'>;
  /** Clock (tests). Default: the system clock. */
  now?: () => Date;
  logger?: DataExportLogger;
  /**
   * A PENDING/RUNNING export older than this no longer blocks a new request (it is marked FAILED/STALLED): its
   * job was lost, e.g. with the in-process queue on a restart. Default 6 hours.
   */
  stalledAfterSeconds?: number;
  /** Exports {@link DataExportService.list} returns. Default 20. */
  listLimit?: number;
}

/** GDPR data export (art. 15/20): request, build in a job, download through a signed URL for 7 days. */
export interface DataExportService {
  /**
   * Starts an export of `userId`: a PENDING row and a {@link DATA_EXPORT_JOB} job (job id = export id).
   * Writes a DATA_EXPORT_REQUESTED audit entry.
   * @throws ConflictError reason DATA_EXPORT_IN_PROGRESS while another export of the user is PENDING or RUNNING.
   * @throws RateLimitError reason DATA_EXPORT_RATE_LIMITED (with `retryAfterSeconds`) within 24 hours of the last
   *   request that did not fail.
   * @throws NotFoundError reason USER_NOT_FOUND; ServiceUnavailableError reason DATA_EXPORT_UNAVAILABLE when the
   *   job queue refuses the job (the row is then FAILED, so the user may try again at once).
   */
  request(userId: string, client: DataExportClient): Promise<DataExportView>;
  /** The user's exports, newest first (at most `listLimit`). */
  list(userId: string): Promise<DataExportView[]>;
  /**
   * The job: RUNNING -> gather -> store `exports/<userId>/<exportId>.json` (private) -> mail the signed link
   * (template `data-export-ready`) -> READY with `completedAt`, `expiresAt` (+7 days) and `sizeBytes`.
   * Idempotent: a READY/EXPIRED/unknown export is left alone; a rerun overwrites the same key and the mail's
   * idempotency key keeps it to one mail. On failure the row becomes FAILED with a step code (never a message)
   * and the error is rethrown so the queue retries.
   */
  run(exportId: string): Promise<void>;
  /** Marks READY exports past `expiresAt` EXPIRED after deleting their documents. Safe to run on a schedule. */
  expireOld(options?: { limit?: number }): Promise<{ expired: number }>;
}

/** Storage key of an export document: one folder per user, so purging a user is `deletePrefix('exports/<id>/')`. */
export function dataExportKey(userId: string, exportId: string): string {
  return `exports/${userId}/${exportId}.json`;
}

const SILENT_LOGGER: DataExportLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: (details, message) => console.error(message, details),
};

class DataExportStepError extends Error {
  constructor(
    readonly failure: DataExportFailure,
    cause: unknown,
  ) {
    super(`data export: ${failure}`, { cause });
    this.name = 'DataExportStepError';
  }
}

/** The greeting name, or undefined when the display name is blank (the template refuses empty names). */
function mailName(displayName: string | null | undefined): string | undefined {
  return displayName?.replace(/\s+/g, ' ').trim().slice(0, 200) || undefined;
}

async function step<T>(failure: DataExportFailure, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw new DataExportStepError(failure, error);
  }
}

/** Wires the export service; see {@link DataExportService} for the rules. */
export function createDataExportService(options: DataExportServiceOptions): DataExportService {
  const { repository, exportReader, jobQueue, storage, mailer } = options;
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? SILENT_LOGGER;
  const stalledAfterMs = (options.stalledAfterSeconds ?? 6 * 60 * 60) * 1000;
  const listLimit = options.listLimit ?? 20;

  function notFound(): NotFoundError {
    return new NotFoundError('User not found', { details: { reason: DataExportErrorCode.USER_NOT_FOUND } });
  }

  async function toView(record: DataExportRecord, at: Date): Promise<DataExportView> {
    const live =
      record.status === 'READY' &&
      record.expiresAt !== null &&
      record.storageKey !== null &&
      record.expiresAt.getTime() > at.getTime();
    const remainingSeconds = live ? Math.floor((record.expiresAt!.getTime() - at.getTime()) / 1000) : 0;
    return {
      id: record.id,
      status: record.status === 'READY' && !live ? 'EXPIRED' : record.status,
      requestedAt: record.requestedAt,
      completedAt: record.completedAt,
      expiresAt: record.expiresAt,
      sizeBytes: record.sizeBytes,
      // Rounded down, so the link never outlives the export; under a second left is as good as expired.
      downloadUrl:
        remainingSeconds >= 1
          ? await storage.signedUrl(record.storageKey!, {
              expiresInSeconds: Math.min(remainingSeconds, MAX_SIGNED_URL_SECONDS),
            })
          : null,
    };
  }

  async function audit(userId: string, exportId: string, client: DataExportClient): Promise<void> {
    await repository.recordRequestAudit({
      action: DATA_EXPORT_REQUESTED_ACTION,
      userId,
      exportId,
      ip: client.ip,
      userAgent: client.userAgent,
      requestId: client.requestId,
    });
  }

  return {
    async request(userId, client) {
      if (!isUuid(userId)) throw notFound();
      const at = now();
      const result = await repository.create(userId, at, {
        rateLimitSince: new Date(at.getTime() - DATA_EXPORT_RATE_LIMIT_SECONDS * 1000),
        stalledBefore: new Date(at.getTime() - stalledAfterMs),
      });
      switch (result.status) {
        case 'USER_NOT_FOUND':
          throw notFound();
        case 'IN_PROGRESS':
          throw new ConflictError('An export of your data is already being prepared', {
            details: { reason: DataExportErrorCode.DATA_EXPORT_IN_PROGRESS },
          });
        case 'RATE_LIMITED': {
          const retryAfterSeconds = Math.max(
            1,
            Math.ceil(
              (result.lastRequestedAt.getTime() + DATA_EXPORT_RATE_LIMIT_SECONDS * 1000 - at.getTime()) /
                1000,
            ),
          );
          throw new DataExportRateLimitError(
            'You can ask for one export of your data a day; try again later',
            retryAfterSeconds,
          );
        }
      }
      const record = result.export;
      // Written before the job can start, so the export itself lists its own request.
      try {
        await audit(userId, record.id, client);
      } catch (error) {
        // A missing audit row must not stop the user from getting their data.
        logger.error({ err: error, exportId: record.id }, 'data export: audit entry not written');
      }
      try {
        await jobQueue.enqueue<DataExportJob>(DATA_EXPORT_JOB, { exportId: record.id }, { jobId: record.id });
      } catch (error) {
        logger.error({ err: error, exportId: record.id }, 'data export: enqueue failed');
        await repository.markFailed(record.id, DataExportFailure.ENQUEUE_FAILED);
        throw new ServiceUnavailableError('Data exports are unavailable right now; try again later', {
          details: { reason: DataExportErrorCode.DATA_EXPORT_UNAVAILABLE },
        });
      }
      logger.info({ exportId: record.id, userId }, 'data export: requested');
      return toView(record, at);
    },

    async list(userId) {
      if (!isUuid(userId)) return [];
      const at = now();
      const records = await repository.listByUser(userId, listLimit);
      return Promise.all(records.map((record) => toView(record, at)));
    },

    async run(exportId) {
      if (!isUuid(exportId)) return;
      if (!(await repository.claim(exportId))) {
        logger.info({ exportId }, 'data export: nothing to do (ready, expired or gone)');
        return;
      }
      const record = await repository.findById(exportId);
      if (!record) return;
      const { userId } = record;
      try {
        const document = await step(DataExportFailure.GATHER_FAILED, () =>
          gatherUserData(exportReader, userId, { now: now() }),
        );
        if (!document) return; // The user (and with it this row) was removed meanwhile.
        const body = Buffer.from(JSON.stringify(document, null, 2), 'utf8');
        const storageKey = dataExportKey(userId, exportId);
        const completedAt = now();
        const expiresAt = new Date(completedAt.getTime() + DATA_EXPORT_TTL_SECONDS * 1000);
        const downloadUrl = await step(DataExportFailure.STORE_FAILED, async () => {
          await storage.put(storageKey, body, { contentType: 'application/json' });
          return storage.signedUrl(storageKey, { expiresInSeconds: DATA_EXPORT_TTL_SECONDS });
        });
        // Mailed before READY: a retry after a failed update finds the delivery by its key and sends nothing.
        await step(DataExportFailure.NOTIFY_FAILED, () =>
          mailer.send({
            to: document.account.email,
            template: 'data-export-ready',
            data: { name: mailName(document.profile?.displayName), downloadUrl, expiresAt },
            userId,
            idempotencyKey: `data-export-ready:${exportId}`,
          }),
        );
        await repository.markReady(exportId, {
          storageKey,
          sizeBytes: body.length,
          completedAt,
          expiresAt,
        });
        logger.info({ exportId, userId, sizeBytes: body.length }, 'data export: ready');
      } catch (error) {
        const failure =
          error instanceof DataExportStepError ? error.failure : DataExportFailure.EXPORT_FAILED;
        logger.error(
          { err: error instanceof DataExportStepError ? error.cause : error, exportId, failure },
          'data export: failed',
        );
        try {
          await repository.markFailed(exportId, failure);
        } catch (markError) {
          logger.error({ err: markError, exportId }, 'data export: could not record the failure');
        }
        // The queue keeps this message with the failed job: the step code only, never a cause's message.
        throw new Error(`data export ${exportId} failed: ${failure}`);
      }
    },

    async expireOld({ limit = 500 } = {}) {
      const expired = await repository.findExpired(now(), limit);
      let count = 0;
      for (const record of expired) {
        // Deleted first: if this fails the row stays READY and the next run tries again.
        if (record.storageKey) await storage.delete(record.storageKey);
        if (await repository.markExpired(record.id)) count += 1;
      }
      if (count > 0) logger.info({ expired: count }, 'data export: expired documents removed');
      return { expired: count };
    },
  };
}
