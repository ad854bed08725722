import type { AuditEntry as SharedAuditEntry, AuditWriter } from '@gatehouse/audit';

// The writer, its sanitising and truncation live in @gatehouse/audit (one audit writer for every subgraph);
// identity keeps its own list of actions and these names for its callers.
export { sanitizeAuditMetadata, type AuditMetadataValue, type AuditOutcome } from '@gatehouse/audit';

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
  // Admin user API (issue #6).
  USER_STATUS_CHANGED: 'USER_STATUS_CHANGED',
  IMPERSONATION_STARTED: 'IMPERSONATION_STARTED',
  IMPERSONATION_ENDED: 'IMPERSONATION_ENDED',
} as const;

export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];

/** One identity audit entry: the shared entry with `action` limited to {@link AuditAction}. */
export type AuditEntry = SharedAuditEntry<AuditAction>;

/** Identity's audit trail: the shared append-only writer, typed to identity's actions (`createAuditLog`). */
export type AuditLog = AuditWriter<AuditAction>;
