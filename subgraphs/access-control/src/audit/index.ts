export {
  AUDIT_CSV_COLUMNS,
  AUDIT_EXPORT_PATH,
  AUDIT_LOGS_EXPORTED,
  AuditExportRouteErrorCode,
  authorizeAuditReaders,
  createAuditExportRoute,
  type AuditExportAccess,
  type AuditExportLogger,
  type AuditExportRouteOptions,
  type AuditReadersOptions,
} from './audit-export.route';
export {
  createAuditLogRepository,
  type AuditLogFilter,
  type AuditLogPosition,
  type AuditLogRepository,
  type AuditLogRow,
  type AuditQueryPool,
} from './audit-log.repository';
export {
  createAuditQueryService,
  decodeAuditCursor,
  DEFAULT_AUDIT_BATCH_SIZE,
  DEFAULT_AUDIT_PAGE_SIZE,
  encodeAuditCursor,
  MAX_AUDIT_PAGE_SIZE,
  MAX_AUDIT_SEARCH_LENGTH,
  parseAuditLogFilter,
  type AuditLogConnection,
  type AuditLogEntry,
  type AuditLogFilterInput,
  type AuditPageArgs,
  type AuditQueryService,
} from './audit-query.service';
export { csvField, csvRecord } from './csv';
export { AuditErrorCode } from './error-codes';
