export { AccessControlErrorCode, accessControlError, type AccessControlErrorFacts } from './error-codes';
export { createPermissionRepository, type PermissionRepository } from './permission.repository';
export {
  createRoleAdminRepository,
  type GlobalGrant,
  type RoleAdminRepository,
  type RoleFields,
  type RoleWriteUnit,
} from './role-admin.repository';
export {
  createRoleAdminService,
  type Actor,
  type CreateRoleRequest,
  type RoleAdminService,
  type RoleAdminServiceOptions,
  type UpdateRoleRequest,
} from './role-admin.service';
export { RoleAuditAction, type RoleAuditEntry, type RoleAuditMetadata } from './role-audit';
export { createRoleRepository, type RoleRepository } from './role.repository';
export {
  createRoleService,
  type AccessExplanationModel,
  type PermissionGroupModel,
  type RoleService,
} from './role.service';
export {
  createRoleInputSchema,
  roleNameSchema,
  updateRoleInputSchema,
  type CreateRoleInput,
  type UpdateRoleInput,
} from './validation';
