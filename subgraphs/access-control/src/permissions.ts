import {
  allow,
  argumentIsViewerOrOmitted,
  hasPermission,
  isSelf,
  or,
  type PermissionMap,
} from '@gatehouse/service';

/** Role management: every mutation. */
const managesRoles = hasPermission('roles:manage');
/** Reading the catalog (registry, roles) is for role managers and for those who may read any user. */
const readsCatalog = or(managesRoles, hasPermission('users:read'));

/**
 * Deny by default. Permission rules read the viewer's live permissions (`hasPermission`), not the token's claims,
 * so a removed grant stops working at once. Denials are FORBIDDEN before any resolver runs: they never reveal
 * whether the role or user asked about exists.
 */
export const permissions: PermissionMap = {
  Query: {
    permissions: readsCatalog,
    roles: readsCatalog,
    role: readsCatalog,
    // About oneself: any signed-in user; about someone else: `users:read`.
    whyCanI: or(argumentIsViewerOrOmitted('userId'), hasPermission('users:read')),
    auditLogs: hasPermission('audit:read'),
  },
  Mutation: {
    createRole: managesRoles,
    updateRole: managesRoles,
    deleteRole: managesRoles,
    assignRole: managesRoles,
    removeRole: managesRoles,
  },
  // A user's roles and permissions: the user, anyone who may read users, and role managers (who change them).
  User: { '*': or(isSelf, hasPermission('users:read'), managesRoles) },
  Role: allow,
  Permission: allow,
  PermissionGroup: allow,
  AccessExplanation: allow,
  // Reachable only through `auditLogs`, which requires `audit:read`.
  AuditLogConnection: allow,
  AuditLogEdge: allow,
  AuditLogPageInfo: allow,
  AuditLogEntry: allow,
};
