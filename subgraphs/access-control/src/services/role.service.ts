import type { Loaders } from '../loaders';
import type { PermissionModel, RoleModel } from '../models';
import type { RoleRepository } from '../repositories/role.repository';

/**
 * Reads roles and permissions. Who may call what is decided by the permission rules (`permissions.ts`)
 * before these run: `Query.roles` is admin-only, `User.roles` self-or-admin.
 */
export interface RoleService {
  /** Every role on the instance, ordered by name. */
  all(): Promise<RoleModel[]>;
  /** Roles granted directly to the user (unexpired grants; one entry per role even if granted in several scopes). */
  ofUser(userId: string): Promise<RoleModel[]>;
  parentOf(role: RoleModel): Promise<RoleModel | null>;
  /** Permissions granted directly by the role, ordered by key. */
  permissionsOf(role: RoleModel): Promise<PermissionModel[]>;
}

/** Per request: binds the request's loaders. */
export function createRoleService(loaders: Loaders, roles: RoleRepository): RoleService {
  return {
    async all() {
      const all = await roles.findAll();
      for (const role of all) loaders.roleById.prime(role.id, role);
      return all;
    },
    async ofUser(userId) {
      const grants = await loaders.roleGrantsByUserId.load(userId);
      const byId = new Map(grants.map((grant) => [grant.role.id, grant.role]));
      return [...byId.values()];
    },
    parentOf: async (role) => (role.parentRoleId ? loaders.roleById.load(role.parentRoleId) : null),
    permissionsOf: async (role) =>
      (await loaders.permissionGrantsByRoleId.load(role.id)).map((grant) => grant.permission),
  };
}
