export {
  MAX_USER_AGENT_LENGTH,
  deviceFingerprint,
  normalizeUserAgent,
  parseUserAgent,
  type DeviceInfo,
} from './device';
export { SessionErrorCode } from './error-codes';
export {
  NO_GEO_LOCATION,
  openGeoLocator,
  type GeoLocation,
  type GeoLocator,
  type OpenGeoLocatorOptions,
} from './geo';
export { createSessionRepository, type SessionRepository } from './session.repository';
export {
  SESSION_LIMIT_REVOKE_REASON,
  SessionEventTopic,
  createSessionService,
  type ClientContext,
  type CreateSessionOptions,
  type CreatedSession,
  type IssuedRefreshToken,
  type ListedSession,
  type NewSignInEvent,
  type RefreshTokenReusedEvent,
  type RotatedRefreshToken,
  type SessionCreatedEvent,
  type SessionRevokedEvent,
  type SessionService,
  type SessionServiceOptions,
  type SignInDevice,
  type SignInNovelty,
} from './session.service';
export type { DeviceSession, SessionRevokeReason } from './session.types';
