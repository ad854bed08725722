/**
 * Reasons the MFA module attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients switch on them, so never rename or remove one.
 */
export const MfaErrorCode = {
  /** The code is wrong, malformed, expired, or was not sent for this purpose. */
  MFA_CODE_INVALID: 'MFA_CODE_INVALID',
  /** A correct TOTP code that was already accepted once (codes are single use, even within their 30 s). */
  MFA_CODE_REUSED: 'MFA_CODE_REUSED',
  /** The MFA token of a sign-in is unknown, expired, used, or destroyed after too many wrong codes: sign in again. */
  MFA_CHALLENGE_INVALID: 'MFA_CHALLENGE_INVALID',
  /** Too many codes sent (3 per 5 minutes); `details.retryAfterSeconds` says when the next one may go out. */
  MFA_CODE_SEND_LIMIT: 'MFA_CODE_SEND_LIMIT',
  /** Too many wrong codes while enrolling, disabling or regenerating; `details.retryAfterSeconds`. */
  MFA_TOO_MANY_ATTEMPTS: 'MFA_TOO_MANY_ATTEMPTS',
  /** The operation needs MFA to be on (disable, regenerate backup codes, a sign-in challenge). */
  MFA_NOT_ENABLED: 'MFA_NOT_ENABLED',
  /** The method is not enrolled for this account, or not offered by this server (SMS without a provider). */
  MFA_METHOD_UNAVAILABLE: 'MFA_METHOD_UNAVAILABLE',
  /** A factor of this kind is already verified for the account. */
  MFA_ALREADY_ENROLLED: 'MFA_ALREADY_ENROLLED',
  /** Confirming a factor that was never enrolled (or whose enrollment was replaced or expired). */
  MFA_ENROLLMENT_NOT_FOUND: 'MFA_ENROLLMENT_NOT_FOUND',
  /** Not an E.164 phone number (`+` country code and number, 8 to 15 digits). */
  PHONE_NUMBER_INVALID: 'PHONE_NUMBER_INVALID',
  /** The SMS provider could not be reached or refused the message; try again later or use another method. */
  SMS_UNAVAILABLE: 'SMS_UNAVAILABLE',
  /** The account has no password to confirm the change with (it signs in through a provider only). */
  PASSWORD_NOT_SET: 'PASSWORD_NOT_SET',
  /** The account does not exist (or was deleted). */
  ACCOUNT_NOT_FOUND: 'ACCOUNT_NOT_FOUND',
} as const;

/** One of the {@link MfaErrorCode} values. */
export type MfaErrorCode = (typeof MfaErrorCode)[keyof typeof MfaErrorCode];
