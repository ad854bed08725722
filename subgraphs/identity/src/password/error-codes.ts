/**
 * Reasons the password reset flow attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code` (BAD_USER_INPUT). Stable across releases: clients may switch on them.
 */
export const PasswordErrorCode = {
  /** The password reset token is malformed or unknown (or was replaced by a newer request). */
  RESET_TOKEN_INVALID: 'RESET_TOKEN_INVALID',
  /** The password reset token is older than 1 hour. */
  RESET_TOKEN_EXPIRED: 'RESET_TOKEN_EXPIRED',
  /** The password reset token was already used. */
  RESET_TOKEN_USED: 'RESET_TOKEN_USED',
} as const;

export type PasswordErrorCode = (typeof PasswordErrorCode)[keyof typeof PasswordErrorCode];
