import {
  allow,
  isAuthenticated,
  isSelfOrAdmin,
  notImpersonating,
  type PermissionMap,
} from '@gatehouse/service';

/**
 * Deny by default. A user's fields are readable by that user and by administrators. Profile fields are
 * only reachable through `User.profile`, which is already guarded, so they need no check of their own.
 */
export const permissions: PermissionMap = {
  User: { '*': isSelfOrAdmin },
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
