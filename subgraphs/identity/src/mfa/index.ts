export { BACKUP_CODE_COUNT, generateBackupCodes, hashBackupCode, normalizeBackupCode } from './backup-codes';
export {
  DEFAULT_SMS_OUTBOX_DIR,
  DEFAULT_TWILIO_BASE_URL,
  SMS_PROVIDERS,
  mfaConcern,
  type MfaConfig,
  type SmsProvider,
} from './config';
export { maskEmail, maskPhoneNumber, normalizePhoneNumber } from './destination';
export { MfaErrorCode } from './error-codes';
export { MfaRateLimitError } from './errors';
export {
  createMfaRepository,
  type MfaFactorRecord,
  type MfaRepository,
  type MfaState,
} from './mfa.repository';
export {
  BACKUP_CODES_LOW_THRESHOLD,
  MFA_CHALLENGE_MAX_FAILURES,
  MFA_CHALLENGE_TTL_SECONDS,
  MFA_CODE_MAX_SENDS,
  MFA_CODE_SEND_WINDOW_SECONDS,
  MFA_CODE_TTL_SECONDS,
  MFA_MAX_WRONG_CODES,
  MFA_WRONG_CODE_WINDOW_SECONDS,
  MfaEventTopic,
  type MfaSecurityEvent,
} from './mfa.constants';
export { createMfaService, type MfaService, type MfaServiceOptions } from './mfa.service';
export type {
  CodeDelivery,
  FactorConfirmation,
  MfaDeliveryMethod,
  MfaFactorSummary,
  MfaFactorType,
  MfaMethod,
  MfaStatus,
  PendingMfaChallenge,
  TotpEnrollment,
  VerifiedChallenge,
} from './mfa.types';
export {
  SmsUnavailableError,
  createOutboxSmsSender,
  createSmsSender,
  createTwilioSmsSender,
  phoneNumberInvalid,
  type SmsMessage,
  type SmsOutboxEntry,
  type SmsSender,
  type TwilioSmsSenderOptions,
} from './sms-sender';
export {
  TOTP_DIGITS,
  TOTP_PERIOD_SECONDS,
  TOTP_WINDOW_STEPS,
  generateTotpSecret,
  matchTotpStep,
  qrCodeDataUrl,
  totpKeyUri,
  totpTimeStep,
} from './totp';
