import { allow, isSelfOrAdmin, type PermissionMap } from '@gatehouse/service';

/**
 * Deny by default. A user's fields are readable by that user and by administrators. Profile fields are
 * only reachable through `User.profile`, which is already guarded, so they need no check of their own.
 */
export const permissions: PermissionMap = {
  User: { '*': isSelfOrAdmin },
  Profile: allow,
};
