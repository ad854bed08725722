import type { KeyValueStore } from '@gatehouse/kv';
import type { Viewer } from './auth';

/**
 * Whether the session an access token belongs to is still active.
 *
 * Access tokens are stateless for 15 minutes; revoking a session must stop its tokens sooner. Each request's
 * `sid` is checked against a short-lived cache entry in the shared key/value store, and on a miss against the
 * system of record (Postgres, through `isSessionActive`). The identity service writes the negative entry the
 * moment it revokes a session ({@link recordSessionRevoked}), so revocation takes effect at once on every
 * replica; if that write is lost (Redis down, flushed), the cached positive answer lasts at most
 * `cacheSeconds`, after which Postgres is asked again.
 */
export type SessionCheck = (viewer: Viewer) => Promise<boolean>;

/** The part of a {@link KeyValueStore} the checker needs. */
export type SessionStatusStore = Pick<KeyValueStore, 'get' | 'set'>;

export interface SessionStatusCheckerOptions {
  /** Must be the store (and key prefix) the identity service revokes sessions in. */
  kv: SessionStatusStore;
  /** The authoritative answer (Postgres): does the session (refresh-token family) have a live token? */
  isSessionActive: (sessionId: string) => Promise<boolean>;
  /** How long an answer from `isSessionActive` is reused; default 15 seconds. */
  cacheSeconds?: number;
  /**
   * Called when the store fails. The check then falls back to `isSessionActive`, so an unavailable Redis
   * costs a Postgres query per request instead of failing requests or letting revoked tokens through.
   */
  onCacheError?: (error: unknown) => void;
}

export interface RecordSessionRevokedOptions {
  /**
   * How long the negative entry lives. It only has to outlast the access tokens issued for the session
   * (after that they are refused as expired anyway); default 1 hour.
   */
  ttlSeconds?: number;
}

const ACTIVE = '1';
const REVOKED = '0';
const DEFAULT_CACHE_SECONDS = 15;
const DEFAULT_REVOKED_TTL_SECONDS = 3600;

/** The key/value store key holding a session's cached status. */
export function sessionStatusKey(sessionId: string): string {
  return `session-status:${sessionId}`;
}

/** Makes every replica refuse the session's access tokens at once (called by whoever revokes it). */
export async function recordSessionRevoked(
  kv: SessionStatusStore,
  sessionId: string,
  { ttlSeconds = DEFAULT_REVOKED_TTL_SECONDS }: RecordSessionRevokedOptions = {},
): Promise<void> {
  await kv.set(sessionStatusKey(sessionId), REVOKED, { ttlSeconds });
}

/**
 * Whether a revocation of the session is recorded in the store (by {@link recordSessionRevoked}, or a cached
 * negative answer). A miss is "not known revoked": for readers without a database, such as the gateway.
 */
export async function isSessionRevocationRecorded(
  kv: Pick<SessionStatusStore, 'get'>,
  sessionId: string,
): Promise<boolean> {
  return (await kv.get(sessionStatusKey(sessionId))) === REVOKED;
}

/**
 * A {@link SessionCheck} for `buildBaseContext`. Tokens without a `sid` (minted for service-to-service calls
 * or tests, never by sign-in) are not tied to a session and pass.
 */
export function createSessionStatusChecker(options: SessionStatusCheckerOptions): SessionCheck {
  const {
    kv,
    isSessionActive,
    cacheSeconds = DEFAULT_CACHE_SECONDS,
    onCacheError = () => undefined,
  } = options;
  if (!(cacheSeconds > 0)) throw new RangeError('cacheSeconds must be positive');
  return async (viewer) => {
    const { sessionId } = viewer;
    if (sessionId === undefined) return true;
    const key = sessionStatusKey(sessionId);
    const cached = await kv.get(key).catch((error: unknown) => {
      onCacheError(error);
      return null;
    });
    if (cached === ACTIVE) return true;
    if (cached === REVOKED) return false;
    const active = await isSessionActive(sessionId);
    // onlyIfAbsent for the positive answer: a revocation recorded while Postgres was being asked must win.
    await kv
      .set(key, active ? ACTIVE : REVOKED, { ttlSeconds: cacheSeconds, onlyIfAbsent: active })
      .catch(onCacheError);
    return active;
  };
}
