export {
  MAIL_THROTTLE_LIMIT,
  MAIL_THROTTLE_WINDOW_SECONDS,
  atLeast,
  createMailThrottle,
  type MailThrottle,
  type MailThrottleOptions,
  type ThrottledMail,
} from './mail-throttle';
export {
  VERIFICATION_TOKEN_TTL_HOURS,
  createRegistrationService,
  type RegistrationInputFields,
  type RegistrationOutcome,
  type RegistrationService,
  type RegistrationServiceOptions,
} from './registration.service';
export {
  createVerificationTokenRepository,
  type ConsumedVerificationToken,
  type VerificationPurpose,
  type VerificationTokenRepository,
} from './verification-token.repository';
