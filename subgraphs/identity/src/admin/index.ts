export {
  DEFAULT_USER_PAGE_SIZE,
  IMPERSONATION_TTL_SECONDS,
  MAX_USER_PAGE_SIZE,
  createAdminService,
  decodeUserCursor,
  encodeUserCursor,
  type AdminService,
  type AdminServiceOptions,
  type Impersonation,
  type UserPage,
} from './admin.service';
export {
  createAdminUserRepository,
  type AdminUserFilter,
  type AdminUserPosition,
  type AdminUserRepository,
  type LinkedAccountRow,
  type UserSecurityFacts,
} from './admin-users.repository';
export { AdminErrorCode } from './error-codes';
