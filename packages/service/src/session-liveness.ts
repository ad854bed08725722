import type { PrismaClient } from '@gatehouse/db';
import type { KeyValueStore } from '@gatehouse/kv';
import { isUuid } from './ids';

/** Sessions unused for this long have expired; must match the identity session service's idle timeout. */
export const DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS = 30 * 24 * 60 * 60;

export interface SessionLivenessOptions {
  /** Default {@link DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS}. */
  idleTimeoutSeconds?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

/**
 * The system-of-record answer for `createSessionStatusChecker` on any subgraph: does the session (refresh-token
 * family, the access token's `sid`) still have a live refresh token? Reads the `sessions` table directly so
 * subgraphs other than identity need no call to identity; the identity session repository applies the same rule.
 */
export function createSessionLivenessQuery(
  prisma: PrismaClient,
  options: SessionLivenessOptions = {},
): (sessionId: string) => Promise<boolean> {
  const { idleTimeoutSeconds = DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS, now = () => new Date() } = options;
  return async (sessionId) => {
    if (!isUuid(sessionId)) return false;
    const at = now();
    const idleCutoff = new Date(at.getTime() - idleTimeoutSeconds * 1000);
    const rows = await prisma.$queryRaw<{ active: boolean }[]>`
      SELECT EXISTS (
        SELECT 1 FROM "sessions" s
        WHERE s.family_id = ${sessionId}::uuid
          AND s.revoked_at IS NULL
          AND s.expires_at > ${at}::timestamptz
          AND s.last_activity_at > ${idleCutoff}::timestamptz
      ) AS active`;
    return rows[0]?.active ?? false;
  };
}

/** At most one `last_activity_at` write per session per this many seconds. */
export const DEFAULT_SESSION_ACTIVITY_THROTTLE_SECONDS = 60;

/** The key/value entry that throttles activity writes; shared by every service using the same store. */
export const sessionActivityKey = (sessionId: string): string => `activity:${sessionId}`;

/**
 * Runs `record` only when the session has no activity entry yet (set-if-absent with a TTL), so a busy session
 * costs one database write per window however many requests and services it touches. Returns whether it ran.
 */
export async function throttleSessionActivity(
  kv: KeyValueStore,
  sessionId: string,
  throttleSeconds: number,
  record: () => Promise<void>,
): Promise<boolean> {
  const first = await kv.set(sessionActivityKey(sessionId), '1', {
    ttlSeconds: throttleSeconds,
    onlyIfAbsent: true,
  });
  if (first) await record();
  return first;
}

export interface SessionActivityOptions extends SessionLivenessOptions {
  /** Default {@link DEFAULT_SESSION_ACTIVITY_THROTTLE_SECONDS}. */
  throttleSeconds?: number;
  /** Sessions whose throttle this process remembers (see below); default 10,000. */
  maxRememberedSessions?: number;
  /** Activity is best effort: a failure is reported here and never fails the request. */
  onError?: (error: unknown) => void;
}

/**
 * Records that a live session was used (`sessions.last_activity_at`, which drives the idle timeout and the order
 * of `mySessions`), throttled through the key/value store. Revoked, expired and idle sessions are left alone.
 *
 * The process also remembers, for one throttle window, each session it has asked the store about, and skips
 * the store until that window ends: without this every authenticated request cost a Redis `SET NX` that answered
 * "already recorded" (docs/performance.md). So a session is still written at most once per window, and at least
 * once per two windows while it is used (when another replica or service wrote it just before this one asked).
 */
export function createSessionActivityRecorder(
  prisma: PrismaClient,
  kv: KeyValueStore,
  options: SessionActivityOptions = {},
): (sessionId: string) => Promise<void> {
  const {
    idleTimeoutSeconds = DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS,
    throttleSeconds = DEFAULT_SESSION_ACTIVITY_THROTTLE_SECONDS,
    now = () => new Date(),
    onError,
    maxRememberedSessions = 10_000,
  } = options;
  /** Session id → when this process may ask the store again (ms); Map order is insertion, oldest first. */
  const askedUntil = new Map<string, number>();
  return async (sessionId) => {
    if (!isUuid(sessionId)) return;
    const nowMs = now().getTime();
    const until = askedUntil.get(sessionId);
    if (until !== undefined && nowMs < until) return;
    askedUntil.delete(sessionId);
    askedUntil.set(sessionId, nowMs + throttleSeconds * 1000);
    if (askedUntil.size > maxRememberedSessions) askedUntil.delete(askedUntil.keys().next().value as string);
    try {
      await throttleSessionActivity(kv, sessionId, throttleSeconds, async () => {
        const at = now();
        const idleCutoff = new Date(at.getTime() - idleTimeoutSeconds * 1000);
        await prisma.$executeRaw`
          UPDATE "sessions" s SET last_activity_at = ${at}::timestamptz
           WHERE s.family_id = ${sessionId}::uuid
             AND s.revoked_at IS NULL
             AND s.expires_at > ${at}::timestamptz
             AND s.last_activity_at > ${idleCutoff}::timestamptz
             AND s.last_activity_at < ${at}::timestamptz`;
      });
    } catch (error) {
      // Not recorded: let the next request try again.
      askedUntil.delete(sessionId);
      onError?.(error);
    }
  };
}
