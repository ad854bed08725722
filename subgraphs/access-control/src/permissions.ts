import { allow, isAdmin, isSelfOrAdmin, type PermissionMap } from '@gatehouse/service';

/**
 * Deny by default. The role catalog is for administrators; a user's roles are readable by that user and by
 * administrators. Role and Permission fields are only reachable through those guarded fields.
 */
export const permissions: PermissionMap = {
  Query: { roles: isAdmin },
  User: { '*': isSelfOrAdmin },
  Role: allow,
  Permission: allow,
};
