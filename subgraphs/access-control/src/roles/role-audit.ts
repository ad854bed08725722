/**
 * Role-management audit entries. The role admin repository's write unit (`RoleWriteUnit.audit`) records them
 * through the shared `@gatehouse/audit` writer in the change's transaction.
 */

/** Role-management actions. Stored verbatim in audit_logs.action; never rename one. */
export const RoleAuditAction = {
  ROLE_CREATED: 'ROLE_CREATED',
  ROLE_UPDATED: 'ROLE_UPDATED',
  ROLE_DELETED: 'ROLE_DELETED',
  ROLE_ASSIGNED: 'ROLE_ASSIGNED',
  ROLE_REMOVED: 'ROLE_REMOVED',
} as const;

export type RoleAuditAction = (typeof RoleAuditAction)[keyof typeof RoleAuditAction];

/** JSON values only: metadata is stored as jsonb. Never put secrets here (role data has none). */
export type RoleAuditMetadata = Record<
  string,
  string | number | boolean | null | string[] | Record<string, string | string[] | null>
>;

/** One successful role change. */
export interface RoleAuditEntry {
  action: RoleAuditAction;
  /** The signed-in user who made the change. */
  actorUserId: string;
  targetType: 'Role' | 'User';
  targetId: string;
  requestId: string;
  metadata: RoleAuditMetadata;
}
