export {
  CAPTCHA_VERIFY_URLS,
  CaptchaUnavailableError,
  createCaptchaVerifier,
  type CaptchaProvider,
  type CaptchaVerifier,
  type CaptchaVerifierOptions,
} from './captcha';
export { CredentialErrorCode, type FieldError } from './error-codes';
export {
  AccountLockedError,
  LoginGuardEventTopic,
  createLoginGuard,
  type AccountLockedEvent,
  type FailureOutcome,
  type LoginGuard,
  type LoginGuardOptions,
  type LockoutLimits,
  type PasswordAttempt,
  type SecondFactorAttempt,
} from './login-guard';
export { createLoginGuardRepository, type LoginGuardRepository } from './login-guard.repository';
export {
  createDummyPasswordCheck,
  verifyAndUpgrade,
  type DummyPasswordCheck,
  type PasswordVerification,
} from './password-check';
export { createPasswordHistory, type PasswordHistory, type PasswordHistoryOptions } from './password-history';
export {
  createPasswordHistoryRepository,
  type PasswordHistoryRepository,
} from './password-history.repository';
export {
  createPasswordPolicy,
  livePasswordPolicy,
  personalFragments,
  resolvePasswordPolicy,
  type PasswordCheckResult,
  type PasswordOwner,
  type PasswordPolicy,
  type PasswordPolicyOptions,
  type PasswordPolicySource,
} from './password-policy';
export {
  PASSWORD_ABSOLUTE_MAX_LENGTH,
  createRegistrationInputSchema,
  emailSchema,
  fieldErrorsFromZod,
  loginInputSchema,
  nameSchema,
  parseLoginInput,
  parseWith,
  registrationInputSchema,
  validateRegistrationInput,
  type LoginInput,
  type RegistrationInput,
  type ValidationResult,
} from './validation';
export {
  createCurrentPasswordCheck,
  wrongCurrentPassword,
  type CurrentPasswordCheck,
  type CurrentPasswordCheckOptions,
} from './current-password';
export {
  auditClientFields,
  recordWrongPassword,
  reportLock,
  type LockCause,
  type WrongPasswordDependencies,
} from './wrong-password';
