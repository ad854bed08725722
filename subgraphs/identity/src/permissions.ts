import { allow, isAuthenticated, isSelfOrAdmin, type PermissionMap } from '@gatehouse/service';

/**
 * Deny by default: every field not listed here is refused. `User` fields are readable by the user
 * themselves and by administrators, however the user was reached (`me`, `user`, or `_entities`).
 */
export const permissions: PermissionMap = {
  Query: {
    me: allow,
    user: isAuthenticated,
  },
  User: { '*': isSelfOrAdmin },
};
