export {
  createAccountRepository,
  type AccessClaims,
  type AccountRecord,
  type AccountRepository,
  type NewAccount,
} from './account.repository';
export {
  EMAIL_CHANGE_TTL_HOURS,
  createEmailChangeService,
  type EmailChangeService,
  type EmailChangeServiceOptions,
} from './email-change.service';
export { createUserRepository, type SqlPool, type UserRepository } from './user.repository';
export { createUserService, type UserService } from './user.service';
export { UserErrorCode } from './error-codes';
