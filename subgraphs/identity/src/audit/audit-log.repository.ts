import { createAuditWriter, type AuditDatabase } from '@gatehouse/audit';
import type { AuditAction, AuditLog } from './audit-log';

/**
 * Append-only audit trail in audit_logs through the shared writer of `@gatehouse/audit` (sanitised metadata,
 * truncated attacker-controlled strings, the outcome stored as `metadata.outcome`). Accepts a transaction client
 * too, so an entry can commit with the change it records.
 */
export function createAuditLog(prisma: AuditDatabase): AuditLog {
  return createAuditWriter<AuditAction>(prisma);
}
