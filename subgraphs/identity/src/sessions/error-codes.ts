/**
 * Reasons the session module attaches to errors as `extensions.details.reason`, next to the generic
 * `extensions.code` (UNAUTHENTICATED or NOT_FOUND). Stable across releases: clients may switch on them.
 */
export const SessionErrorCode = {
  /** The refresh token is unknown (never issued, or malformed). */
  INVALID_REFRESH_TOKEN: 'INVALID_REFRESH_TOKEN',
  /** The refresh token had already been used: its whole session was revoked. Sign in again. */
  REFRESH_TOKEN_REUSED: 'REFRESH_TOKEN_REUSED',
  /** The session ended (signed out, revoked by the user, an administrator, or a password change). */
  SESSION_REVOKED: 'SESSION_REVOKED',
  /** The session reached its expiry or was idle for too long. */
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  /** No session with this id belongs to the viewer. */
  SESSION_NOT_FOUND: 'SESSION_NOT_FOUND',
} as const;

export type SessionErrorCode = (typeof SessionErrorCode)[keyof typeof SessionErrorCode];
