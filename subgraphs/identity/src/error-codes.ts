import { PasswordErrorCode } from './password/error-codes';
import { UserErrorCode } from './users/error-codes';

/**
 * Reasons the identity subgraph attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code`. Stable across releases: clients may switch on them. The codes more than one feature raises
 * are declared here; each feature declares its own in its `error-codes.ts` (sessions, credentials, MFA, OAuth,
 * leaving, admin, users, password), and the last two are folded in so existing callers keep one name.
 */
export const IdentityErrorCode = {
  ...UserErrorCode,
  /** The email verification token is malformed or unknown (or was replaced by a newer one). */
  VERIFICATION_TOKEN_INVALID: 'VERIFICATION_TOKEN_INVALID',
  /** The email verification token is older than 24 hours. */
  VERIFICATION_TOKEN_EXPIRED: 'VERIFICATION_TOKEN_EXPIRED',
  /** The email verification token was already used. */
  VERIFICATION_TOKEN_USED: 'VERIFICATION_TOKEN_USED',
  ...PasswordErrorCode,
  /** `logout` without a refresh token and without a session access token: nothing to sign out of. */
  NO_SESSION: 'NO_SESSION',
} as const;

export type IdentityErrorCode = (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode];
