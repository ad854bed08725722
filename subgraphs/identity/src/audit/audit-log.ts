import type { Prisma, PrismaClient } from '@gatehouse/db';
import { isSecretKey } from '@gatehouse/logger';

/** Security-relevant actions of the identity subgraph. Stored verbatim in audit_logs.action; never rename one. */
export const AuditAction = {
  USER_REGISTERED: 'USER_REGISTERED',
  EMAIL_VERIFIED: 'EMAIL_VERIFIED',
  LOGIN_SUCCEEDED: 'LOGIN_SUCCEEDED',
  LOGIN_FAILED: 'LOGIN_FAILED',
  ACCOUNT_LOCKED: 'ACCOUNT_LOCKED',
  REFRESH_TOKEN_REUSED: 'REFRESH_TOKEN_REUSED',
  PASSWORD_CHANGED: 'PASSWORD_CHANGED',
  PASSWORD_RESET_REQUESTED: 'PASSWORD_RESET_REQUESTED',
  PASSWORD_RESET: 'PASSWORD_RESET',
  SESSION_REVOKED: 'SESSION_REVOKED',
  SESSIONS_REVOKED: 'SESSIONS_REVOKED',
  // Multi-factor authentication (issue #4).
  MFA_FACTOR_ENROLLED: 'MFA_FACTOR_ENROLLED',
  MFA_ENABLED: 'MFA_ENABLED',
  MFA_DISABLED: 'MFA_DISABLED',
  MFA_CHALLENGE_PASSED: 'MFA_CHALLENGE_PASSED',
  MFA_CHALLENGE_FAILED: 'MFA_CHALLENGE_FAILED',
  MFA_CODE_SENT: 'MFA_CODE_SENT',
  BACKUP_CODE_USED: 'BACKUP_CODE_USED',
  BACKUP_CODES_REGENERATED: 'BACKUP_CODES_REGENERATED',
  // Social sign-in (issue #4).
  OAUTH_SIGN_UP: 'OAUTH_SIGN_UP',
  OAUTH_LOGIN_SUCCEEDED: 'OAUTH_LOGIN_SUCCEEDED',
  OAUTH_LOGIN_FAILED: 'OAUTH_LOGIN_FAILED',
  OAUTH_ACCOUNT_LINKED: 'OAUTH_ACCOUNT_LINKED',
  OAUTH_ACCOUNT_UNLINKED: 'OAUTH_ACCOUNT_UNLINKED',
  // Leaving (issue #5).
  ACCOUNT_DEACTIVATED: 'ACCOUNT_DEACTIVATED',
  ACCOUNT_REACTIVATION_REQUESTED: 'ACCOUNT_REACTIVATION_REQUESTED',
  ACCOUNT_REACTIVATED: 'ACCOUNT_REACTIVATED',
  ACCOUNT_DELETED: 'ACCOUNT_DELETED',
  ACCOUNT_PURGED: 'ACCOUNT_PURGED',
  EMAIL_CHANGE_REQUESTED: 'EMAIL_CHANGE_REQUESTED',
  EMAIL_CHANGED: 'EMAIL_CHANGED',
} as const;

export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];

export type AuditOutcome = 'SUCCESS' | 'FAILURE';

/** JSON values only: metadata is stored as jsonb. */
export type AuditMetadataValue =
  string | number | boolean | null | AuditMetadataValue[] | { [key: string]: AuditMetadataValue };

export interface AuditEntry {
  action: AuditAction;
  outcome: AuditOutcome;
  /** The signed-in user who acted; omitted for anonymous actions (a failed sign-in of an unknown e-mail). */
  actorUserId?: string | null;
  /** What was acted on, e.g. `User` / `Session` and its id. */
  targetType?: string | null;
  targetId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** When it happened, for entries written after the fact (a job); default: the database's now(). */
  at?: Date;
  /** Extra facts (a failure reason, a session id). Keys that look secret are dropped, at any depth. */
  metadata?: Record<string, AuditMetadataValue | undefined>;
}

export interface AuditLog {
  /** Inserts one row. Rejects when the database does: callers decide whether the action may proceed without it. */
  record(entry: AuditEntry): Promise<void>;
}

/** User agents are attacker-controlled; a row keeps enough to recognise the client and no more. */
const MAX_USER_AGENT_LENGTH = 512;
const MAX_IP_LENGTH = 64;
const MAX_METADATA_DEPTH = 8;

/** Drops secret-named keys (same rule as the logger's redaction) and undefined values, at any depth. */
export function sanitizeAuditMetadata(value: AuditMetadataValue, depth = 0): AuditMetadataValue {
  if (depth > MAX_METADATA_DEPTH) return '[Too deep]';
  if (Array.isArray(value)) return value.map((item) => sanitizeAuditMetadata(item, depth + 1));
  if (value !== null && typeof value === 'object') {
    const result: Record<string, AuditMetadataValue> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined || isSecretKey(key)) continue;
      result[key] = sanitizeAuditMetadata(item, depth + 1);
    }
    return result;
  }
  return value;
}

const truncate = (value: string | null | undefined, max: number) =>
  value === undefined || value === null ? null : value.slice(0, max);

/**
 * Append-only audit trail in audit_logs (range-partitioned by month; rows outside every monthly partition land
 * in the default partition). audit_logs has no outcome column, so the outcome is stored as `metadata.outcome`.
 */
export function createAuditLog(prisma: PrismaClient): AuditLog {
  return {
    async record(entry) {
      const metadata = sanitizeAuditMetadata({
        ...(entry.metadata as Record<string, AuditMetadataValue>),
        outcome: entry.outcome,
      });
      await prisma.auditLog.create({
        data: {
          ...(entry.at === undefined ? {} : { createdAt: entry.at }),
          action: entry.action,
          actorUserId: entry.actorUserId ?? null,
          targetType: entry.targetType ?? null,
          targetId: entry.targetId ?? null,
          ipAddress: truncate(entry.ip, MAX_IP_LENGTH),
          userAgent: truncate(entry.userAgent, MAX_USER_AGENT_LENGTH),
          requestId: truncate(entry.requestId, 128),
          metadata: metadata as Prisma.InputJsonObject,
        },
        select: { id: true },
      });
    },
  };
}
