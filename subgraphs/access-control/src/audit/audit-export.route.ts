import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditViewer, AuditWriter } from '@gatehouse/audit';
import {
  AUDIT_READ_PERMISSION,
  bearerViewerFrom,
  createRestRoute,
  RestError,
  type AccessTokenVerifier,
  type EffectivePermissions,
  type RouteHandler,
  type SessionCheck,
} from '@gatehouse/service';
import {
  createAuditQueryService,
  DEFAULT_AUDIT_BATCH_SIZE,
  type AuditLogEntry,
  type AuditLogFilterInput,
} from './audit-query.service';
import type { AuditLogRepository } from './audit-log.repository';
import { csvRecord } from './csv';
import { AuditErrorCode } from './error-codes';

/** Where the export is served (the gateway forwards the same path). */
export const AUDIT_EXPORT_PATH = '/admin/audit-logs/export';
/** Written to audit_logs.action when someone exports the audit trail (the export is itself audited). */
export const AUDIT_LOGS_EXPORTED = 'AUDIT_LOGS_EXPORTED';

/**
 * `error` values of the export's JSON error bodies besides the {@link AuditErrorCode} reasons. Stable across
 * releases.
 */
export const AuditExportRouteErrorCode = {
  /** 401: no valid `Authorization: Bearer` token (with `WWW-Authenticate: Bearer`). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** 403: authenticated, but not allowed to read the audit trail. */
  FORBIDDEN: 'FORBIDDEN',
  /** 405: only GET is served. */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** 500: something failed on our side before the first byte; the `x-request-id` finds it in the logs. */
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;

/**
 * What `authorize` decides: `'unauthenticated'` (401), `false` (403), or allowed: `true`, or the caller, whom the
 * export's own audit entry then names as the actor.
 */
export type AuditExportAccess = boolean | 'unauthenticated' | AuditViewer;

/** The part of a pino logger the route uses. */
export interface AuditExportLogger {
  info?(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface AuditExportRouteOptions {
  /** The audit log reads (`createAuditLogRepository`; given the pg pool, about twice as fast as Prisma alone). */
  repository: AuditLogRepository;
  /**
   * Decides whether the request may export the audit trail (see {@link authorizeAuditReaders}). A thrown
   * AuthenticationError counts as `'unauthenticated'`; any other error answers 500.
   */
  authorize(req: IncomingMessage): Promise<AuditExportAccess>;
  logger: AuditExportLogger;
  /** Records each export (AUDIT_LOGS_EXPORTED, with format, filter and row count) when given. */
  audit?: AuditWriter;
  /** Default {@link AUDIT_EXPORT_PATH}. */
  path?: string;
  /** Rows per database query. Default 1000. */
  batchSize?: number;
  /** Clock for the file name, for tests. */
  now?: () => Date;
}

/** Columns of the CSV export, in order (the header row). */
export const AUDIT_CSV_COLUMNS = [
  'id',
  'created_at',
  'action',
  'outcome',
  'actor_user_id',
  'impersonator_user_id',
  'target_type',
  'target_id',
  'ip_address',
  'user_agent',
  'request_id',
  'metadata',
] as const;

function csvRow(entry: AuditLogEntry): string {
  return csvRecord([
    entry.id,
    entry.createdAt.toISOString(),
    entry.action,
    entry.outcome,
    entry.actorUserId,
    entry.impersonatorUserId,
    entry.targetType,
    entry.targetId,
    entry.ipAddress,
    entry.userAgent,
    entry.requestId,
    JSON.stringify(entry.metadata),
  ]);
}

/** How each format frames its rows. */
const FORMATS = {
  csv: {
    contentType: 'text/csv; charset=utf-8; header=present',
    start: csvRecord(AUDIT_CSV_COLUMNS),
    row: (entry: AuditLogEntry, _index: number) => csvRow(entry),
    end: '',
  },
  json: {
    contentType: 'application/json; charset=utf-8',
    start: '[',
    row: (entry: AuditLogEntry, index: number) => `${index === 0 ? '\n' : ',\n'}${JSON.stringify(entry)}`,
    end: '\n]\n',
  },
} as const;

type ExportFormat = keyof typeof FORMATS;

/**
 * Writes `chunk`, waiting for 'drain' when the socket's buffer is full (backpressure), so a slow client holds the
 * export back instead of the server buffering it. @returns false once the client has gone.
 */
function write(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (open: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(open);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** The export's filter from the query string; `action` may repeat and may hold a comma-separated list. */
function filterFrom(params: URLSearchParams): AuditLogFilterInput {
  return {
    actorUserId: params.get('actorUserId'),
    impersonatorUserId: params.get('impersonatorUserId'),
    actions: params.getAll('action').flatMap((value) => value.split(',')),
    targetType: params.get('targetType'),
    targetId: params.get('targetId'),
    outcome: params.get('outcome'),
    from: params.get('from'),
    to: params.get('to'),
    search: params.get('search'),
  };
}

/**
 * `GET /admin/audit-logs/export?format=csv|json` with the filters of the `auditLogs` query as parameters
 * (`actorUserId`, `impersonatorUserId`, `action` (repeatable or comma-separated), `targetType`, `targetId`,
 * `outcome`, `from`, `to` (ISO 8601; from inclusive, to exclusive), `search`). `format` defaults to csv.
 *
 * 200 streams every matching entry, newest first, as an attachment: CSV (header row, CRLF lines, RFC 4180
 * quoting, cells that would start a spreadsheet formula prefixed with `'`; `metadata` as JSON) or a JSON array of
 * entries. Rows are read in keyset batches of 1000 and written with backpressure, so any range streams in bounded
 * memory. A failure after the first byte aborts the transfer (the response is cut short, never silently complete).
 *
 * Errors are JSON `{ error, message }`: 401 `UNAUTHENTICATED` (with `WWW-Authenticate: Bearer`); 403 `FORBIDDEN`;
 * 400 `AUDIT_FILTER_INVALID` (with `field`) or `AUDIT_EXPORT_FORMAT_INVALID`; 405 `METHOD_NOT_ALLOWED`;
 * 500 `INTERNAL_SERVER_ERROR`. Authorization is checked before the parameters. There is no way to change or remove
 * audit rows through this or any other route.
 */
export function createAuditExportRoute(options: AuditExportRouteOptions): RouteHandler {
  const { authorize, logger, audit } = options;
  const routePath = options.path ?? AUDIT_EXPORT_PATH;
  const batchSize = options.batchSize ?? DEFAULT_AUDIT_BATCH_SIZE;
  const now = options.now ?? (() => new Date());
  const queries = createAuditQueryService(options.repository);

  return createRestRoute<{ actor: AuditViewer | null }>({
    name: 'audit export',
    path: routePath,
    methods: ['GET'],
    logger,
    authenticate: {
      challenge: 'bearer',
      async principal(req) {
        const decision = await authorize(req);
        if (decision === 'unauthenticated') return null;
        if (decision === false) {
          throw new RestError(
            403,
            AuditExportRouteErrorCode.FORBIDDEN,
            'Reading the audit log is not allowed',
          );
        }
        return { actor: decision === true ? null : decision };
      },
    },
    // Authorization is checked before the parameters; an AppError of the query (a bad filter) answers 400.
    async handle({ res, query, requestId, principal: { actor } }) {
      const formatParam = query.get('format') ?? 'csv';
      if (!Object.hasOwn(FORMATS, formatParam)) {
        throw new RestError(400, AuditErrorCode.AUDIT_EXPORT_FORMAT_INVALID, 'format must be csv or json', {
          field: 'format',
        });
      }
      const format = formatParam as ExportFormat;
      const framing = FORMATS[format];

      const batches = queries.batches(filterFrom(query), { batchSize })[Symbol.asyncIterator]();
      // The first batch is read before the status line, so a failing query still gets a proper 400 or 500.
      const first = await batches.next();

      const stamp = now().toISOString().replace(/[:.]/g, '-');
      res.writeHead(200, {
        'content-type': framing.contentType,
        'content-disposition': `attachment; filename="audit-logs-${stamp}.${format}"`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });

      const recordExport = async (succeeded: boolean, count: number) => {
        if (!audit) return;
        const filter = Object.fromEntries(
          [...query.entries()].filter(([key]) => key !== 'format').map(([key, value]) => [key, value]),
        );
        await audit
          .record({
            action: AUDIT_LOGS_EXPORTED,
            outcome: succeeded ? 'SUCCESS' : 'FAILURE',
            actorUserId: actor?.userId ?? null,
            impersonatorUserId: actor?.impersonatorUserId ?? null,
            targetType: 'AuditLog',
            requestId,
            metadata: { format, rows: count, filter },
          })
          .catch((err: unknown) => logger.error({ err, requestId }, 'audit export: audit entry not written'));
      };

      let rows = 0;
      let complete = false;
      try {
        let open = await write(res, framing.start);
        let result = first;
        while (open && !result.done) {
          let chunk = '';
          for (const entry of result.value) chunk += framing.row(entry, rows++);
          open = await write(res, chunk);
          if (open) result = await batches.next();
        }
        if (open) {
          await write(res, framing.end);
          // Recorded before the response ends, so whoever saw the whole export can find its audit entry.
          await recordExport(true, rows);
          complete = true;
          res.end();
        }
      } catch (err) {
        logger.error(
          { err, requestId, rows },
          'audit export: failed while streaming; the response is cut short',
        );
        res.destroy();
      } finally {
        await batches.return?.();
      }
      if (!complete && !res.destroyed) res.destroy();
      logger.info?.({ requestId, format, rows, complete }, 'audit export finished');

      // A complete export was recorded before its last byte went out; a cut-short one is recorded now.
      if (!complete) await recordExport(false, rows);
      return { streamed: true };
    },
  });
}

/** Options of {@link authorizeAuditReaders}. */
export interface AuditReadersOptions {
  /** Verifies the access token; `null` (no key configured) refuses every request. */
  verifier: AccessTokenVerifier | null;
  /** Refuses tokens of ended sessions, as the GraphQL context does. */
  sessionCheck?: SessionCheck;
  /** The permission that grants access. Default {@link AUDIT_READ_PERMISSION}. */
  permission?: string;
  /**
   * The viewer's live permissions (`createEffectivePermissions`): a revoked permission stops the export at once.
   * Without it (tests), the token's `permissions` claim decides; a role claim never does.
   */
  effectivePermissions?: Pick<EffectivePermissions, 'of'>;
}

/**
 * The `authorize` of the export for production: a valid `Authorization: Bearer` access token of a live session
 * (else `'unauthenticated'`) whose holder has the `audit:read` permission (else `false`).
 */
export function authorizeAuditReaders(
  options: AuditReadersOptions,
): (req: IncomingMessage) => Promise<AuditExportAccess> {
  const permission = options.permission ?? AUDIT_READ_PERMISSION;
  return async (req) => {
    const viewer = await bearerViewerFrom(req, options);
    if (viewer === null) return 'unauthenticated';
    const allowed = options.effectivePermissions
      ? (await options.effectivePermissions.of(viewer.userId)).has(permission)
      : viewer.permissions?.includes(permission) === true;
    return allowed ? viewer : false;
  };
}
