/**
 * Stable codes of the credentials module. Field codes go into `FieldError.code` (one per invalid form field);
 * the others are attached as `extensions.details.reason` next to the generic GraphQL `extensions.code`.
 * Clients switch on them: never rename or remove one, add new codes instead.
 */
export const CredentialErrorCode = {
  /** A field that is not one of the known inputs is malformed (or the input is not an object at all). */
  INPUT_INVALID: 'INPUT_INVALID',
  EMAIL_INVALID: 'EMAIL_INVALID',
  NAME_INVALID: 'NAME_INVALID',
  PASSWORD_REQUIRED: 'PASSWORD_REQUIRED',
  PASSWORD_TOO_SHORT: 'PASSWORD_TOO_SHORT',
  PASSWORD_TOO_LONG: 'PASSWORD_TOO_LONG',
  PASSWORD_TOO_WEAK: 'PASSWORD_TOO_WEAK',
  PASSWORD_CONTAINS_PERSONAL_DATA: 'PASSWORD_CONTAINS_PERSONAL_DATA',
  PASSWORD_RECENTLY_USED: 'PASSWORD_RECENTLY_USED',
  /** Wrong email or password, or any other sign-in failure that must not be told apart. */
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  /** Too many failed sign-ins; `details.lockedUntil` says when the lock ends. */
  ACCOUNT_LOCKED: 'ACCOUNT_LOCKED',
  /** Correct password, but the e-mail address is not verified yet. */
  ACCOUNT_NOT_VERIFIED: 'ACCOUNT_NOT_VERIFIED',
  /** Correct password, but the account is deactivated or suspended. */
  ACCOUNT_DEACTIVATED: 'ACCOUNT_DEACTIVATED',
  /**
   * Correct first factor, but the account holds a role of the `security.mfaRequiredRoles` setting and has no
   * second factor: it cannot sign in until one is set up (an administrator can take the role away meanwhile).
   */
  MFA_SETUP_REQUIRED: 'MFA_SETUP_REQUIRED',
  /** The CAPTCHA provider rejected the token. */
  CAPTCHA_INVALID: 'CAPTCHA_INVALID',
  /** The CAPTCHA provider could not be asked (network error, timeout, non-200): we fail closed. */
  CAPTCHA_UNAVAILABLE: 'CAPTCHA_UNAVAILABLE',
} as const;

export type CredentialErrorCode = (typeof CredentialErrorCode)[keyof typeof CredentialErrorCode];

/** One invalid form field, ready to show next to that field. Never contains the submitted value. */
export interface FieldError {
  /** Input field name: `email`, `password`, `name`. */
  field: string;
  code: CredentialErrorCode;
  /** Human-readable, safe to show to the user. */
  message: string;
}
