import {
  allow,
  hasPermission,
  isAuthenticated,
  isSelf,
  notImpersonating,
  or,
  type PermissionMap,
} from '@gatehouse/service';

/**
 * Deny by default. A user's fields are readable by that user and by whoever may read any user account
 * (`users:read`, e.g. support). Permission rules read live permissions when the app has the shared store, so a
 * removed `users:read` stops working at once, not when the access token expires. Profile fields are only
 * reachable through `User.profile`, which is already guarded, so they need no check of their own.
 */
export const permissions: PermissionMap = {
  User: {
    '*': or(isSelf, hasPermission('users:read')),
    // Signed links to the user's whole personal data: beyond support's read access, as before only
    // administrators (who manage accounts) may see another user's.
    dataExports: or(isSelf, hasPermission('users:write')),
  },
  Profile: allow,
  Avatar: allow,
  NotificationPreference: allow,
  DataExport: allow,
  ProfileFieldError: allow,
  UpdateProfilePayload: allow,
  // Each mutation acts on the viewer's own account only.
  Mutation: {
    updateProfile: isAuthenticated,
    updateNotificationPreferences: isAuthenticated,
    // Exports personal data: not with an impersonation token.
    requestDataExport: notImpersonating,
  },
};
