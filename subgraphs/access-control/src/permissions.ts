import {
  allow,
  and,
  argumentIsViewerOrOmitted,
  hasPermission,
  isAuthenticated,
  isSelf,
  notImpersonating,
  or,
  type PermissionMap,
} from '@gatehouse/service';

/** Role management: every mutation. */
const managesRoles = hasPermission('roles:manage');
/** Reading the catalog (registry, roles) is for role managers and for those who may read any user. */
const readsCatalog = or(managesRoles, hasPermission('users:read'));
/** Platform settings and feature flags: reading and changing. */
const managesSettings = hasPermission('settings:manage');

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
    settings: managesSettings,
    featureFlags: managesSettings,
    // Evaluates for the viewer only: nothing about other users or the flag's configuration is revealed.
    featureFlag: isAuthenticated,
    // Platform-wide counts only: nothing about a single user is revealed.
    adminMetrics: hasPermission('users:read'),
  },
  // An impersonation token never changes roles or settings, whoever is impersonated.
  Mutation: {
    createRole: and(notImpersonating, managesRoles),
    updateRole: and(notImpersonating, managesRoles),
    deleteRole: and(notImpersonating, managesRoles),
    assignRole: and(notImpersonating, managesRoles),
    removeRole: and(notImpersonating, managesRoles),
    updateSetting: and(notImpersonating, managesSettings),
    setFeatureFlag: and(notImpersonating, managesSettings),
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
  // Reachable only through the settings fields, whose rules apply.
  Setting: allow,
  FeatureFlag: allow,
  FeatureFlagEvaluation: allow,
  // Reachable only through `adminMetrics`, which requires `users:read`.
  AdminMetrics: allow,
  MetricsStatusCount: allow,
  MetricsRevenue: allow,
  MetricsDailyCount: allow,
  MetricsSignInMethodCount: allow,
  MetricsPlanCount: allow,
  MetricsOperationUsage: allow,
};
