import { AccessControlErrorCode, accessControlError } from './error-codes';
import type { Loaders, Repositories } from '../loaders';
import type { PermissionModel, RoleModel } from '../models';

/** The permissions of one resource (`billing` for `billing:read`, `billing:manage`). */
export interface PermissionGroupModel {
  resource: string;
  permissions: PermissionModel[];
}

/** Whether and through which role paths a user holds a permission (see `Query.whyCanI`). */
export interface AccessExplanationModel {
  permission: string;
  granted: boolean;
  /** Each path: the directly granted role first, the role granting the permission last. */
  paths: RoleModel[][];
}

/**
 * Reads roles and permissions. Who may call what is decided by the permission rules (`permissions.ts`)
 * before these run.
 */
export interface RoleService {
  /** Every role on the instance, ordered by name. */
  all(): Promise<RoleModel[]>;
  /** Direct children of `parentId` (roles without a parent for `null`), ordered by name. */
  children(parentId: string | null): Promise<RoleModel[]>;
  byId(id: string): Promise<RoleModel | null>;
  /** Roles granted directly to the user (unexpired grants; one entry per role even if granted in several scopes). */
  ofUser(userId: string): Promise<RoleModel[]>;
  parentOf(role: RoleModel): Promise<RoleModel | null>;
  /** Permissions granted directly by the role, ordered by key. */
  permissionsOf(role: RoleModel): Promise<PermissionModel[]>;
  /** The registry grouped by resource, groups and keys ordered alphabetically. */
  permissionGroups(): Promise<PermissionGroupModel[]>;
  /**
   * Explains how `userId` holds `permission`. Agrees with the live effective permissions (same grants: unexpired,
   * global, inherited through parents).
   * @throws PERMISSION_UNKNOWN when the key is not in the registry (a typo would otherwise read as "not granted").
   */
  explain(userId: string, permission: string): Promise<AccessExplanationModel>;
}

/** The resource of a `resource:action` key. */
function resourceOf(key: string): string {
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}

/** Per request: binds the request's loaders. */
export function createRoleService(loaders: Loaders, repositories: Repositories): RoleService {
  const prime = (roles: RoleModel[]) => {
    for (const role of roles) loaders.roleById.prime(role.id, role);
    return roles;
  };
  return {
    all: async () => prime(await repositories.roles.findAll()),
    children: async (parentId) => prime(await repositories.roles.findByParent(parentId)),
    byId: (id) => loaders.roleById.load(id),
    async ofUser(userId) {
      const grants = await loaders.roleGrantsByUserId.load(userId);
      const byId = new Map(grants.map((grant) => [grant.role.id, grant.role]));
      return [...byId.values()];
    },
    parentOf: async (role) => (role.parentRoleId ? loaders.roleById.load(role.parentRoleId) : null),
    permissionsOf: async (role) =>
      (await loaders.permissionGrantsByRoleId.load(role.id)).map((grant) => grant.permission),
    async permissionGroups() {
      const groups = new Map<string, PermissionModel[]>();
      for (const permission of await repositories.permissions.findAll()) {
        const resource = resourceOf(permission.key);
        const group = groups.get(resource) ?? [];
        group.push(permission);
        groups.set(resource, group);
      }
      return [...groups.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([resource, permissions]) => ({ resource, permissions }));
    },
    async explain(userId, permission) {
      if (!(await repositories.permissions.findByKey(permission))) {
        throw accessControlError(AccessControlErrorCode.PERMISSION_UNKNOWN, 'Unknown permission', {
          permissions: [permission],
        });
      }
      const idPaths = await repositories.permissions.grantPaths(userId, permission, new Date());
      const roles = new Map<string, RoleModel>();
      for (const role of await loaders.roleById.loadMany([...new Set(idPaths.flat())])) {
        if (role && !(role instanceof Error)) roles.set(role.id, role);
      }
      const paths = idPaths
        .map((ids) => ids.flatMap((id) => roles.get(id) ?? []))
        .filter((path) => path.length > 0)
        .sort((a, b) => a.length - b.length || pathName(a).localeCompare(pathName(b)));
      return { permission, granted: paths.length > 0, paths };
    },
  };
}

const pathName = (path: RoleModel[]) => path.map((role) => role.name).join('/');
