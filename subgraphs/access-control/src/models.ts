/** A user as this subgraph knows it: only the key. Identity owns the user itself. */
export interface UserReference {
  id: string;
}

export interface RoleModel {
  id: string;
  name: string;
  description: string | null;
  isSystem: boolean;
  parentRoleId: string | null;
}

export interface PermissionModel {
  id: string;
  key: string;
  description: string | null;
}

/** One role granted to one user (a row of `user_roles` joined with its role). */
export interface UserRoleGrant {
  userId: string;
  role: RoleModel;
}

/** One permission granted by one role (a row of `role_permissions` joined with its permission). */
export interface RolePermissionGrant {
  roleId: string;
  permission: PermissionModel;
}
