// Domain types of the session module, shared by the service and the repository (no Prisma types here).

/** Why a session row stopped being usable; mirrors the `session_revoke_reason` database enum. */
export type SessionRevokeReason =
  | 'ROTATED'
  | 'REFRESH_TOKEN_REUSE'
  | 'LOGOUT'
  | 'LOGOUT_ALL'
  | 'USER_REVOKED'
  | 'ADMIN_REVOKED'
  | 'PASSWORD_CHANGED'
  | 'PASSWORD_RESET'
  | 'MFA_CHANGED'
  | 'ACCOUNT_LOCKED'
  | 'ACCOUNT_DELETED'
  | 'SESSION_LIMIT_EXCEEDED'
  | 'ACCOUNT_DEACTIVATED';

/** Device and network facts recorded with a refresh token. */
export interface SessionClientInfo {
  userAgent: string | null;
  deviceType: string;
  deviceName: string | null;
  os: string | null;
  browser: string | null;
  ipAddress: string | null;
  country: string | null;
  city: string | null;
}

/** A device session as users see it: the live refresh token of one family. */
export interface DeviceSession {
  /** The family id: stable across refreshes, put in access tokens as `sid`. */
  sessionId: string;
  userId: string;
  deviceType: string | null;
  deviceName: string | null;
  os: string | null;
  browser: string | null;
  ipAddress: string | null;
  country: string | null;
  city: string | null;
  /** When the family started (the sign-in), not when its current refresh token was issued. */
  signedInAt: Date;
  lastActivityAt: Date;
  /** When the current refresh token expires (refreshing moves it). */
  expiresAt: Date;
}

/** One stored refresh token, as much as rotation needs to classify a failure. */
export interface RefreshTokenRow {
  rowId: string;
  sessionId: string;
  userId: string;
  revokedAt: Date | null;
  revokeReason: SessionRevokeReason | null;
  expiresAt: Date;
  lastActivityAt: Date;
}
