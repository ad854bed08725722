export {
  AuditAction,
  createAuditLog,
  sanitizeAuditMetadata,
  type AuditEntry,
  type AuditLog,
  type AuditMetadataValue,
  type AuditOutcome,
} from './audit-log';
