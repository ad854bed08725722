/**
 * Reasons the identity subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them.
 */
export const IdentityErrorCode = {
  /** The viewer asked for another user's account without being an administrator. */
  USER_NOT_ACCESSIBLE: 'USER_NOT_ACCESSIBLE',
  /** The email verification token is malformed or unknown (or was replaced by a newer one). */
  VERIFICATION_TOKEN_INVALID: 'VERIFICATION_TOKEN_INVALID',
  /** The email verification token is older than 24 hours. */
  VERIFICATION_TOKEN_EXPIRED: 'VERIFICATION_TOKEN_EXPIRED',
  /** The email verification token was already used. */
  VERIFICATION_TOKEN_USED: 'VERIFICATION_TOKEN_USED',
  /** The password reset token is malformed or unknown (or was replaced by a newer request). */
  RESET_TOKEN_INVALID: 'RESET_TOKEN_INVALID',
  /** The password reset token is older than 1 hour. */
  RESET_TOKEN_EXPIRED: 'RESET_TOKEN_EXPIRED',
  /** The password reset token was already used. */
  RESET_TOKEN_USED: 'RESET_TOKEN_USED',
  /** `logout` without a refresh token and without a session access token: nothing to sign out of. */
  NO_SESSION: 'NO_SESSION',
} as const;

export type IdentityErrorCode = (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode];
