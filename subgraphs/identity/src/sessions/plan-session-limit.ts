/** The plan limit key that caps concurrent sessions per user (`limits.sessions` of a subscription plan). */
export const SESSIONS_LIMIT_KEY = 'sessions';
/** A plan may raise the limit, never beyond this: every session is a row and a refresh-token family. */
export const MAX_SESSIONS_PER_USER = 1000;

/** What the plan of a user's running subscription says about concurrent sessions. */
export type PlanSessionsLimit =
  /** No running subscription, or its plan sets no numeric (or null) `sessions` limit. */
  | { type: 'unset' }
  /** The plan says `sessions: null`. */
  | { type: 'unlimited' }
  /** The plan's number, rounded down; not yet checked for sense (it may be below 1). */
  | { type: 'limited'; value: number };

/**
 * The port through which identity reads the one billing figure it needs at sign-in. Billing owns plans and
 * subscriptions; `plan-session-limits.repository.ts` implements this as a sanctioned cross-subgraph read.
 */
export interface PlanSessionLimits {
  /** The `sessions` limit of the plan of the user's running (trialing, active or past-due) subscription. */
  sessionsLimitOf(userId: string): Promise<PlanSessionsLimit>;
}

/**
 * Concurrent sessions a user may hold: the `sessions` limit of their running subscription's plan (billing owns plans;
 * identity only reads the number), else `fallback` (SESSION_LIMIT_PER_USER). A plan saying `null` (unlimited) gets
 * {@link MAX_SESSIONS_PER_USER}. Read at each sign-in, so a plan change applies to the next one.
 */
export function createPlanSessionLimit(
  limits: PlanSessionLimits,
  fallback: number,
): (userId: string) => Promise<number> {
  return async (userId) => {
    const limit = await limits.sessionsLimitOf(userId);
    if (limit.type === 'unset') return fallback;
    if (limit.type === 'unlimited') return MAX_SESSIONS_PER_USER;
    if (limit.value < 1) return fallback;
    return Math.min(limit.value, MAX_SESSIONS_PER_USER);
  };
}
