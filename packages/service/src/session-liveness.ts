import type { PrismaClient } from '@gatehouse/db';
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
