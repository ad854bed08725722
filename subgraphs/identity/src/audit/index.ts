export {
  AuditAction,
  sanitizeAuditMetadata,
  type AuditEntry,
  type AuditLog,
  type AuditMetadataValue,
  type AuditOutcome,
} from './audit-log';
export { createAuditLog } from './audit-log.repository';
