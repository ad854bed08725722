/**
 * Reasons the leaving module (deactivate, reactivate, delete) attaches to errors as `extensions.details.reason`,
 * next to the generic `extensions.code` (BAD_USER_INPUT). Stable across releases: clients may switch on them.
 * A wrong password answers the credentials module's INVALID_CREDENTIALS (see `createCurrentPasswordCheck`).
 */
export const LeavingErrorCode = {
  /** The reactivation link is malformed or unknown (or was replaced by a newer one, or the account changed). */
  REACTIVATION_TOKEN_INVALID: 'REACTIVATION_TOKEN_INVALID',
  /** The reactivation link is older than 24 hours: sign in again for a fresh one. */
  REACTIVATION_TOKEN_EXPIRED: 'REACTIVATION_TOKEN_EXPIRED',
  /** The reactivation link was already used. */
  REACTIVATION_TOKEN_USED: 'REACTIVATION_TOKEN_USED',
  /** Only an active account can be deactivated (it is pending verification, suspended or already deactivated). */
  ACCOUNT_NOT_ACTIVE: 'ACCOUNT_NOT_ACTIVE',
  /** The account no longer exists (deleted meanwhile). */
  ACCOUNT_NOT_FOUND: 'ACCOUNT_NOT_FOUND',
} as const;

export type LeavingErrorCode = (typeof LeavingErrorCode)[keyof typeof LeavingErrorCode];
