import type DataLoader from 'dataloader';
import { groupedLoaderByKey, loaderByKey } from '@gatehouse/service';
import type { RolePermissionGrant, RoleModel, UserRoleGrant } from './models';
import type { PermissionRepository, RoleRepository } from './roles';

export interface Repositories {
  roles: RoleRepository;
  permissions: PermissionRepository;
}

/** Request-scoped DataLoaders: one query per kind of lookup per request, however many users are resolved. */
export interface Loaders {
  roleGrantsByUserId: DataLoader<string, UserRoleGrant[]>;
  roleById: DataLoader<string, RoleModel | null>;
  permissionGrantsByRoleId: DataLoader<string, RolePermissionGrant[]>;
  /** Effective permission keys per user (inherited ones included). */
  permissionKeysByUserId: DataLoader<string, { userId: string; key: string }[]>;
}

export function createLoaders(repositories: Repositories): Loaders {
  const roleById = loaderByKey<string, RoleModel>(
    (ids) => repositories.roles.findByIds(ids),
    (role) => role.id,
  );
  return {
    roleGrantsByUserId: groupedLoaderByKey<string, UserRoleGrant>(
      async (userIds) => {
        const grants = await repositories.roles.findGrantsForUsers(userIds, new Date());
        // The roles came along with the grants: later `parent`/`roleById` lookups of them need no query.
        for (const grant of grants) roleById.prime(grant.role.id, grant.role);
        return grants;
      },
      (grant) => grant.userId,
    ),
    roleById,
    permissionGrantsByRoleId: groupedLoaderByKey<string, RolePermissionGrant>(
      (roleIds) => repositories.permissions.findGrantsForRoles(roleIds),
      (grant) => grant.roleId,
    ),
    permissionKeysByUserId: groupedLoaderByKey<string, { userId: string; key: string }>(
      (userIds) => repositories.permissions.effectiveKeysForUsers(userIds, new Date()),
      (row) => row.userId,
    ),
  };
}
