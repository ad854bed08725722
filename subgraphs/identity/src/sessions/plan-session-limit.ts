import type { PrismaClient } from '@gatehouse/db';

/** The plan limit key that caps concurrent sessions per user (`limits.sessions` of a subscription plan). */
export const SESSIONS_LIMIT_KEY = 'sessions';
/** A plan may raise the limit, never beyond this: every session is a row and a refresh-token family. */
export const MAX_SESSIONS_PER_USER = 1000;

/**
 * Concurrent sessions a user may hold: the `sessions` limit of their running subscription's plan (billing owns plans;
 * identity only reads the number), else `fallback` (SESSION_LIMIT_PER_USER). A plan saying `null` (unlimited) gets
 * {@link MAX_SESSIONS_PER_USER}. Read at each sign-in, so a plan change applies to the next one.
 */
export function createPlanSessionLimit(
  prisma: Pick<PrismaClient, '$queryRaw'>,
  fallback: number,
): (userId: string) => Promise<number> {
  return async (userId) => {
    const rows = await prisma.$queryRaw<{ kind: string | null; value: number | null }[]>`
      SELECT jsonb_typeof(p.limits -> ${SESSIONS_LIMIT_KEY}) AS kind,
             CASE WHEN jsonb_typeof(p.limits -> ${SESSIONS_LIMIT_KEY}) = 'number'
                  THEN floor((p.limits ->> ${SESSIONS_LIMIT_KEY})::numeric)::int END AS value
      FROM subscriptions s
      JOIN subscription_plans p ON p.id = s.plan_id
      WHERE s.user_id = ${userId}::uuid AND s.ended_at IS NULL
        AND s.status IN ('TRIALING', 'ACTIVE', 'PAST_DUE')
      ORDER BY s.created_at DESC
      LIMIT 1`;
    const row = rows[0];
    if (!row || row.kind === null) return fallback;
    if (row.kind === 'null') return MAX_SESSIONS_PER_USER;
    if (row.value === null || row.value < 1) return fallback;
    return Math.min(row.value, MAX_SESSIONS_PER_USER);
  };
}
