export {
  createPasswordResetTokenRepository,
  type PasswordResetTokenRepository,
  type PasswordResetTokenState,
} from './password-reset-token.repository';
export {
  RESET_TOKEN_TTL_MINUTES,
  createPasswordService,
  type PasswordChangeOutcome,
  type PasswordService,
  type PasswordServiceOptions,
} from './password.service';
export { PasswordErrorCode } from './error-codes';
