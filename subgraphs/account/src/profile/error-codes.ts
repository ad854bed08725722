/**
 * Stable codes of the profile module. Field codes go into `FieldError.code` (one per invalid input field); the
 * others are attached as `details.reason` next to the generic error code. Clients switch on them: never rename or
 * remove one, add new codes instead.
 */
export const ProfileErrorCode = {
  /** The input is not an object, or names a field that cannot be changed here. */
  INPUT_INVALID: 'INPUT_INVALID',
  /** Display name empty (also after removing markup) or longer than 100 characters. */
  DISPLAY_NAME_INVALID: 'DISPLAY_NAME_INVALID',
  /** Biography longer than 500 characters (after cleaning). */
  BIO_TOO_LONG: 'BIO_TOO_LONG',
  /** Not an E.164 phone number (`+` and up to 15 digits; spaces, dashes, dots and brackets are ignored). */
  PHONE_NUMBER_INVALID: 'PHONE_NUMBER_INVALID',
  /** Not a well-formed BCP 47 language tag. */
  LOCALE_INVALID: 'LOCALE_INVALID',
  /** Not an IANA time zone name this runtime knows (or `UTC`). */
  TIMEZONE_INVALID: 'TIMEZONE_INVALID',
  /** NOT_FOUND: the user does not exist (any more): deleted, or an id from a token that outlived its user. */
  USER_NOT_FOUND: 'USER_NOT_FOUND',
} as const;

export type ProfileErrorCode = (typeof ProfileErrorCode)[keyof typeof ProfileErrorCode];

/**
 * One invalid input field, ready to show next to that field; the same shape as identity's `FieldError`.
 * Never contains the submitted value.
 */
export interface ProfileFieldError {
  /** Input field name: `displayName`, `bio`, `phone`, `locale`, `timezone` (empty for the input as a whole). */
  field: string;
  code: ProfileErrorCode;
  /** Human-readable, safe to show to the user. */
  message: string;
}
