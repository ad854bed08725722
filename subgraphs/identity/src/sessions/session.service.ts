/*
 * Long (~580 lines) because a session's whole life shares one invariant set: issue, rotate with reuse detection,
 * revoke, list. The device and location enrichment already live in device.ts and geo.ts; the next split, if it
 * grows, is rotation (refresh) from listing and revocation.
 */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { generateToken, hashToken } from '@gatehouse/crypto';
import { AuthenticationError, NotFoundError } from '@gatehouse/errors';
import type { EventBus } from '@gatehouse/events';
import type { KeyValueStore } from '@gatehouse/kv';
import { isUuid, recordSessionRevoked, throttleSessionActivity } from '@gatehouse/service';
import { deviceFingerprint, normalizeUserAgent, parseUserAgent } from './device';
import { SessionErrorCode } from './error-codes';
import { NO_GEO_LOCATION, type GeoLocator } from './geo';
import type {
  LivenessWindow,
  RecentDevice,
  RevokedRefreshToken,
  SessionRepository,
} from './session.repository';
import type { DeviceSession, SessionClientInfo, SessionRevokeReason } from './session.types';

const DAY_SECONDS = 24 * 60 * 60;

/**
 * Topics this module publishes on the event bus. The gateway's graphql-ws server relays them to the user they
 * name (`sessionEvents`, `securityEvents`; docs/realtime.md), so payloads carry the `userId` and never a token.
 */
export const SessionEventTopic = {
  /** A used refresh token was presented again; payload {@link RefreshTokenReusedEvent}. */
  REFRESH_TOKEN_REUSED: 'security.refresh_token_reused',
  /** A device session started (a sign-in or an impersonation); payload {@link SessionCreatedEvent}. */
  SESSION_CREATED: 'session.created',
  /** A live session ended, whatever the reason (one event per session); payload {@link SessionRevokedEvent}. */
  SESSION_REVOKED: 'session.revoked',
  /** A sign-in from a device or country not seen within the known-device window; payload {@link NewSignInEvent}. */
  NEW_SIGN_IN: 'security.new_sign_in',
} as const;

export interface SessionCreatedEvent {
  /** Unique per event (subscribers de-duplicate on it). */
  id: string;
  userId: string;
  sessionId: string;
  novelty: SignInNovelty;
  /** e.g. `Chrome 120 on Windows 10 (Windows PC)`. */
  device: string;
  location: string | null;
  /** ISO 8601. */
  at: string;
}

export interface SessionRevokedEvent {
  id: string;
  userId: string;
  sessionId: string;
  reason: SessionRevokeReason;
  /** ISO 8601. */
  at: string;
}

export interface NewSignInEvent {
  id: string;
  userId: string;
  sessionId: string;
  device: string;
  location: string | null;
  ip: string | null;
  /** ISO 8601. */
  at: string;
}

export interface RefreshTokenReusedEvent {
  userId: string;
  /** The revoked family. */
  sessionId: string;
  /** Who presented the used token. */
  ip: string | null;
  userAgent: string | null;
  /** ISO 8601. */
  at: string;
}

/** Why sessions evicted by the concurrent-session limit ended (shown in audit and session history). */
export const SESSION_LIMIT_REVOKE_REASON: SessionRevokeReason = 'SESSION_LIMIT_EXCEEDED';

/** The limit of a session exempt from it: an int4 OFFSET no user reaches. */
const UNLIMITED_SESSIONS = 2_147_483_647;

export interface SessionLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface SessionServiceOptions {
  repository: SessionRepository;
  /** Shared store for the refresh-token, activity and session-status caches (the gateway's checker reads it). */
  kv: KeyValueStore;
  events: EventBus;
  /** Default: no locations. Open the real one once with `openGeoLocator()`. */
  geo?: GeoLocator;
  logger?: SessionLogger;
  /** Live sessions a user may have; a function for per-plan limits. Default 10. */
  maxSessionsPerUser?: number | ((userId: string) => number | Promise<number>);
  /** Lifetime of each refresh token (sliding: every refresh issues a fresh one). Default 30 days. */
  refreshTokenTtlSeconds?: number;
  /** A session unused for this long expires. Default 30 days. */
  idleTimeoutSeconds?: number;
  /** At most one `last_activity_at` write per session per this many seconds. Default 60. */
  activityThrottleSeconds?: number;
  /** How long the "revoked" marker stays cached; must outlast access tokens. Default 1 hour. */
  revokedStatusTtlSeconds?: number;
  /** A sign-in from a device or country not seen for this long counts as new (see `SignInNovelty`). Default 90 days. */
  knownDeviceWindowSeconds?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

/**
 * How a sign-in compares with the user's earlier ones: the very first, one from a device and country used within
 * the known-device window, or one from a device or country not used within it (worth telling the owner about).
 */
export type SignInNovelty = 'FIRST_SIGN_IN' | 'KNOWN_DEVICE' | 'NEW_DEVICE';

/** What a new session was signed in from, as a person would describe it. */
export interface SignInDevice {
  novelty: SignInNovelty;
  /** e.g. `Chrome 120 on Windows 10 (Windows PC)`; `Unknown device` when the user agent says nothing. */
  description: string;
  /** e.g. `Berlin, DE`; null when unknown. */
  location: string | null;
  ip: string | null;
}

export interface ClientContext {
  userAgent?: string | null;
  ip?: string | null;
}

export interface IssuedRefreshToken {
  /** The device session (refresh-token family) id; goes into access tokens as `sid`. */
  sessionId: string;
  /** Opaque; returned to the client once and stored only as a hash. */
  refreshToken: string;
  expiresAt: Date;
}

export interface CreatedSession extends IssuedRefreshToken {
  device: SignInDevice;
}

export interface RotatedRefreshToken extends IssuedRefreshToken {
  userId: string;
}

export interface ListedSession extends DeviceSession {
  /** The session of the access token that asked. */
  current: boolean;
}

/** Per-session overrides of {@link SessionService.createSession}, for sessions that are not sign-ins. */
export interface CreateSessionOptions {
  /** Lifetime of the session instead of the refresh-token lifetime (an impersonation lives 15 minutes). */
  ttlSeconds?: number;
  /**
   * Leave the user's other sessions alone even beyond the session limit. For sessions the user did not start (an
   * administrator's impersonation): they must not sign the user out of a device.
   */
  exemptFromLimit?: boolean;
}

export interface SessionService {
  /** Starts a device session at sign-in; may revoke the user's least recently active sessions (limit). */
  createSession(input: { userId: string } & ClientContext & CreateSessionOptions): Promise<CreatedSession>;
  /**
   * Exchanges a refresh token for its successor.
   * @throws AuthenticationError with reason INVALID_REFRESH_TOKEN, SESSION_REVOKED, SESSION_EXPIRED, or
   * REFRESH_TOKEN_REUSED (the token was already used: the whole session is revoked and a security event published).
   */
  rotateRefreshToken(refreshToken: string, client?: ClientContext): Promise<RotatedRefreshToken>;
  /** Ends the session a refresh token belongs to (sign-out with the refresh token); null when it is not live. */
  revokeByRefreshToken(
    refreshToken: string,
    reason?: SessionRevokeReason,
  ): Promise<{ sessionId: string; userId: string } | null>;
  /** The user's live sessions, most recently active first. */
  listSessions(userId: string, currentSessionId?: string | null): Promise<ListedSession[]>;
  /** The live sessions of several users (one query), for administrators; none is `current`. */
  listSessionsOfUsers(userIds: readonly string[]): Promise<ListedSession[]>;
  /** @throws NotFoundError (SESSION_NOT_FOUND) unless it is a live session of this user. */
  revokeSession(userId: string, sessionId: string, reason?: SessionRevokeReason): Promise<void>;
  /**
   * Signs out every other device. Without a current session (a token not issued for one), that is all of them.
   * @returns how many sessions were revoked.
   */
  revokeOtherSessions(
    userId: string,
    currentSessionId: string | null | undefined,
    reason?: SessionRevokeReason,
  ): Promise<number>;
  /** For password reset/change and account lockout. @returns how many sessions were revoked. */
  revokeAllSessions(userId: string, reason: SessionRevokeReason): Promise<number>;
  /** Records activity; writes to Postgres at most once per throttle window per session. */
  touch(sessionId: string): Promise<void>;
  /** The Postgres answer for `createSessionStatusChecker`'s `isSessionActive`. */
  isSessionActive(sessionId: string): Promise<boolean>;
}

/** Opaque refresh tokens are base64url (`generateToken`); anything else is refused without a query. */
const REFRESH_TOKEN_FORMAT = /^[A-Za-z0-9_-]{22,256}$/;
const MAX_IP_LENGTH = 64;

interface CachedRefreshToken {
  sessionId: string;
  userId: string;
  expiresAt: string;
}

const refreshKey = (refreshTokenHash: string) => `refresh:${refreshTokenHash}`;

function normalizeIp(ip: string | null | undefined): string | null {
  const trimmed = ip?.trim();
  if (!trimmed || trimmed.length > MAX_IP_LENGTH || isIP(trimmed) === 0) return null;
  return trimmed;
}

function refreshError(reason: SessionErrorCode, message: string): AuthenticationError {
  return new AuthenticationError(message, { details: { reason } });
}

function sessionNotFound(): NotFoundError {
  return new NotFoundError('Session not found', { details: { reason: SessionErrorCode.SESSION_NOT_FOUND } });
}

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be positive`);
  return value;
}

/**
 * Device sessions and refresh-token rotation. Postgres is the record for every decision (live, rotated,
 * reused, revoked); the key/value store holds caches that make the hot paths cheap and that may vanish at any
 * time (a Redis flush) without logging anyone out or letting a revoked token work again.
 */
export function createSessionService(options: SessionServiceOptions): SessionService {
  const { repository, kv, events, geo = NO_GEO_LOCATION, logger } = options;
  const refreshTtl = positive('refreshTokenTtlSeconds', options.refreshTokenTtlSeconds ?? 30 * DAY_SECONDS);
  const idleTimeout = positive('idleTimeoutSeconds', options.idleTimeoutSeconds ?? 30 * DAY_SECONDS);
  const activityThrottle = positive('activityThrottleSeconds', options.activityThrottleSeconds ?? 60);
  const revokedStatusTtl = positive('revokedStatusTtlSeconds', options.revokedStatusTtlSeconds ?? 3600);
  const clock = options.now ?? (() => new Date());
  const limitOption = options.maxSessionsPerUser ?? 10;
  const knownDeviceWindow = positive(
    'knownDeviceWindowSeconds',
    options.knownDeviceWindowSeconds ?? 90 * DAY_SECONDS,
  );

  function window(): LivenessWindow {
    const now = clock();
    return { now, idleCutoff: new Date(now.getTime() - idleTimeout * 1000) };
  }

  async function maxSessionsFor(userId: string): Promise<number> {
    const limit = typeof limitOption === 'function' ? await limitOption(userId) : limitOption;
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError('maxSessionsPerUser must be an integer >= 1');
    return limit;
  }

  /** Cache maintenance never fails the operation: Postgres already holds the truth. */
  async function bestEffort(what: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      logger?.warn({ err }, `session cache: ${what} failed`);
    }
  }

  async function cacheRefreshToken(hash: string, entry: CachedRefreshToken, now: Date): Promise<void> {
    const ttlSeconds = (new Date(entry.expiresAt).getTime() - now.getTime()) / 1000;
    if (ttlSeconds <= 0) return;
    await bestEffort('caching a refresh token', () =>
      kv.set(refreshKey(hash), JSON.stringify(entry), { ttlSeconds }),
    );
  }

  /** Notifications never fail the operation they report: the revocation is already committed. */
  async function publish<T extends { userId: string }>(topic: string, payload: T): Promise<void> {
    try {
      await events.publish(topic, payload);
    } catch (err) {
      logger?.error({ err, topic, userId: payload.userId }, 'could not publish a session event');
    }
  }

  /**
   * Caches the revocations and announces each ended session (`ended`: whose, and why). Only the families whose
   * live token this call revoked are announced, so a repeated revocation announces nothing.
   */
  async function afterRevocation(
    revoked: readonly RevokedRefreshToken[],
    sessionIds: Iterable<string> = [],
    ended?: { userId: string; reason: SessionRevokeReason },
  ) {
    const families = new Set([...sessionIds, ...revoked.map((row) => row.sessionId)]);
    await Promise.all([
      ...[...families].map((sessionId) =>
        bestEffort('recording a revocation', () =>
          recordSessionRevoked(kv, sessionId, { ttlSeconds: revokedStatusTtl }),
        ),
      ),
      ...revoked.map((row) =>
        bestEffort('forgetting a refresh token', () => kv.delete(refreshKey(row.refreshTokenHash))),
      ),
    ]);
    if (!ended) return;
    // After the revocation markers: a client that reconnects on the event must already be refused.
    const at = clock().toISOString();
    await Promise.all(
      [...new Set(revoked.map((row) => row.sessionId))].map((sessionId) =>
        publish(SessionEventTopic.SESSION_REVOKED, {
          id: randomUUID(),
          userId: ended.userId,
          sessionId,
          reason: ended.reason,
          at,
        } satisfies SessionRevokedEvent),
      ),
    );
  }

  const countFamilies = (revoked: readonly RevokedRefreshToken[]) =>
    new Set(revoked.map((row) => row.sessionId)).size;

  function clientInfo(client: ClientContext) {
    const userAgent = normalizeUserAgent(client.userAgent);
    const ipAddress = normalizeIp(client.ip);
    const location = geo.lookup(ipAddress);
    return {
      device: userAgent === null ? null : { userAgent, ...parseUserAgent(userAgent) },
      network:
        ipAddress === null
          ? null
          : { ipAddress, country: location?.country ?? null, city: location?.city ?? null },
    };
  }

  function describeSignIn(
    client: SessionClientInfo,
    recentDevices: readonly RecentDevice[],
    signedInBefore: boolean,
  ): SignInDevice {
    const print = deviceFingerprint(client);
    const sameDevice = recentDevices.filter((seen) => deviceFingerprint(seen) === print);
    const countries = sameDevice.map((seen) => seen.country?.trim() ?? null);
    // An unknown country (private address, no GeoIP) neither makes a device new nor vouches for a country.
    const known =
      sameDevice.length > 0 &&
      (client.country === null ||
        countries.includes(client.country) ||
        countries.every((country) => country === null));
    const on = [client.os, client.deviceName && `(${client.deviceName})`].filter(Boolean).join(' ');
    const description =
      client.browser && on ? `${client.browser} on ${on}` : client.browser || on || 'Unknown device';
    return {
      novelty: !signedInBefore ? 'FIRST_SIGN_IN' : known ? 'KNOWN_DEVICE' : 'NEW_DEVICE',
      description,
      location: [client.city, client.country].filter(Boolean).join(', ') || null,
      ip: client.ipAddress,
    };
  }

  async function handleReuse(sessionId: string, userId: string, client: ClientContext, now: Date) {
    const revoked = await repository.revokeFamilies({
      ...window(),
      sessionIds: [sessionId],
      reason: 'REFRESH_TOKEN_REUSE',
    });
    await afterRevocation(revoked, [sessionId], { userId, reason: 'REFRESH_TOKEN_REUSE' });
    const event: RefreshTokenReusedEvent = {
      userId,
      sessionId,
      ip: normalizeIp(client.ip),
      userAgent: normalizeUserAgent(client.userAgent),
      at: now.toISOString(),
    };
    try {
      await events.publish(SessionEventTopic.REFRESH_TOKEN_REUSED, event);
    } catch (err) {
      logger?.error({ err, userId, sessionId }, 'could not publish a refresh token reuse event');
    }
  }

  return {
    async createSession({ userId, ttlSeconds, exemptFromLimit, ...client }) {
      const { now, idleCutoff } = window();
      const { device, network } = clientInfo(client);
      const refreshToken = generateToken(32);
      const refreshTokenHash = hashToken(refreshToken);
      const lifetime = ttlSeconds === undefined ? refreshTtl : positive('ttlSeconds', ttlSeconds);
      const expiresAt = new Date(now.getTime() + lifetime * 1000);
      const sessionClient: SessionClientInfo = {
        userAgent: device?.userAgent ?? null,
        deviceType: device?.deviceType ?? 'unknown',
        deviceName: device?.deviceName ?? null,
        os: device?.os ?? null,
        browser: device?.browser ?? null,
        ipAddress: network?.ipAddress ?? null,
        country: network?.country ?? null,
        city: network?.city ?? null,
      };
      const { sessionId, evicted, recentDevices, signedInBefore } = await repository.createFamily({
        userId,
        refreshTokenHash,
        client: sessionClient,
        now,
        idleCutoff,
        expiresAt,
        maxSessions: exemptFromLimit === true ? UNLIMITED_SESSIONS : await maxSessionsFor(userId),
        limitReason: SESSION_LIMIT_REVOKE_REASON,
        recentDevicesSince: new Date(now.getTime() - knownDeviceWindow * 1000),
      });
      await Promise.all([
        afterRevocation(evicted, [], { userId, reason: SESSION_LIMIT_REVOKE_REASON }),
        cacheRefreshToken(refreshTokenHash, { sessionId, userId, expiresAt: expiresAt.toISOString() }, now),
      ]);
      const signIn = describeSignIn(sessionClient, recentDevices, signedInBefore);
      const at = now.toISOString();
      const announcements = [
        publish(SessionEventTopic.SESSION_CREATED, {
          id: randomUUID(),
          userId,
          sessionId,
          novelty: signIn.novelty,
          device: signIn.description,
          location: signIn.location,
          at,
        } satisfies SessionCreatedEvent),
      ];
      // Only a sign-in is "new": sessions with overrides (an administrator's impersonation) are not the user's.
      const isSignIn = ttlSeconds === undefined && exemptFromLimit === undefined;
      if (isSignIn && signIn.novelty === 'NEW_DEVICE') {
        announcements.push(
          publish(SessionEventTopic.NEW_SIGN_IN, {
            id: randomUUID(),
            userId,
            sessionId,
            device: signIn.description,
            location: signIn.location,
            ip: signIn.ip,
            at,
          } satisfies NewSignInEvent),
        );
      }
      await Promise.all(announcements);
      return { sessionId, refreshToken, expiresAt, device: signIn };
    },

    async rotateRefreshToken(refreshToken, client = {}) {
      if (typeof refreshToken !== 'string' || !REFRESH_TOKEN_FORMAT.test(refreshToken)) {
        throw refreshError(SessionErrorCode.INVALID_REFRESH_TOKEN, 'Invalid refresh token');
      }
      const current = window();
      const { now } = current;
      const refreshTokenHash = hashToken(refreshToken);
      const successor = generateToken(32);
      const successorHash = hashToken(successor);
      const expiresAt = new Date(now.getTime() + refreshTtl * 1000);
      // Always decided by Postgres: a cache entry could be stale after a lost write or a flush.
      const rotated = await repository.rotate({
        ...current,
        refreshTokenHash,
        successorHash,
        expiresAt,
        ...clientInfo(client),
      });
      if (rotated) {
        const { sessionId, userId } = rotated;
        await Promise.all([
          bestEffort('forgetting a refresh token', () => kv.delete(refreshKey(refreshTokenHash))),
          cacheRefreshToken(successorHash, { sessionId, userId, expiresAt: expiresAt.toISOString() }, now),
        ]);
        return { sessionId, userId, refreshToken: successor, expiresAt };
      }

      const row = await repository.findByRefreshTokenHash(refreshTokenHash);
      if (!row) throw refreshError(SessionErrorCode.INVALID_REFRESH_TOKEN, 'Invalid refresh token');
      if (row.revokeReason === 'ROTATED') {
        await handleReuse(row.sessionId, row.userId, client, now);
        throw refreshError(
          SessionErrorCode.REFRESH_TOKEN_REUSED,
          'This refresh token was already used; the session has been ended. Sign in again.',
        );
      }
      if (row.revokedAt !== null) {
        throw refreshError(SessionErrorCode.SESSION_REVOKED, 'The session has ended. Sign in again.');
      }
      throw refreshError(SessionErrorCode.SESSION_EXPIRED, 'The session has expired. Sign in again.');
    },

    async revokeByRefreshToken(refreshToken, reason = 'LOGOUT') {
      if (typeof refreshToken !== 'string' || !REFRESH_TOKEN_FORMAT.test(refreshToken)) return null;
      const refreshTokenHash = hashToken(refreshToken);
      // The cache only says which family to end; the revocation itself is decided by Postgres.
      const cached = await kv.get(refreshKey(refreshTokenHash)).catch(() => null);
      const owner = cached
        ? (JSON.parse(cached) as CachedRefreshToken)
        : await repository.findByRefreshTokenHash(refreshTokenHash);
      if (!owner) return null;
      const { sessionId, userId } = owner;
      const revoked = await repository.revokeFamilies({
        ...window(),
        userId,
        sessionIds: [sessionId],
        reason,
      });
      await afterRevocation(revoked, [sessionId], { userId, reason });
      return revoked.length > 0 ? { sessionId, userId } : null;
    },

    async listSessionsOfUsers(userIds) {
      const ids = userIds.filter(isUuid);
      const sessions = await repository.listLiveOfUsers(ids, window());
      return sessions.map((session) => ({ ...session, current: false }));
    },

    async listSessions(userId, currentSessionId) {
      if (!isUuid(userId)) return [];
      const sessions = await repository.listLive(userId, window());
      return sessions.map((session) => ({ ...session, current: session.sessionId === currentSessionId }));
    },

    async revokeSession(userId, sessionId, reason = 'USER_REVOKED') {
      // Someone else's session and no session at all look the same, so ids of other users leak nothing.
      if (!isUuid(userId) || !isUuid(sessionId)) throw sessionNotFound();
      const revoked = await repository.revokeFamilies({
        ...window(),
        userId,
        sessionIds: [sessionId],
        reason,
      });
      if (revoked.length === 0) throw sessionNotFound();
      await afterRevocation(revoked, [], { userId, reason });
    },

    async revokeOtherSessions(userId, currentSessionId, reason = 'LOGOUT_ALL') {
      if (!isUuid(userId)) return 0;
      const revoked = await repository.revokeFamilies({
        ...window(),
        userId,
        ...(currentSessionId && isUuid(currentSessionId) ? { exceptSessionId: currentSessionId } : {}),
        reason,
      });
      await afterRevocation(revoked, [], { userId, reason });
      return countFamilies(revoked);
    },

    async revokeAllSessions(userId, reason) {
      if (!isUuid(userId)) return 0;
      const revoked = await repository.revokeFamilies({ ...window(), userId, reason });
      await afterRevocation(revoked, [], { userId, reason });
      return countFamilies(revoked);
    },

    async touch(sessionId) {
      if (!isUuid(sessionId)) return;
      try {
        // The same throttle entry as the service kit's per-request recorder, so the two never both write.
        await throttleSessionActivity(kv, sessionId, activityThrottle, () =>
          repository.touch(sessionId, window()),
        );
      } catch (err) {
        // Activity is approximate: without the throttle every request would write, so skip it instead.
        logger?.warn({ err }, 'session activity not recorded');
      }
    },

    async isSessionActive(sessionId) {
      if (!isUuid(sessionId)) return false;
      return repository.isActive(sessionId, window());
    },
  };
}
