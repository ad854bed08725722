/**
 * A sanctioned cross-subgraph read (`docs/architecture.md`, "Sanctioned multi-table readers"): identity reads
 * billing's plan limits (`subscriptions` joined with `subscription_plans`, read-only, one figure: `limits.sessions`)
 * at every sign-in. Asking billing through the supergraph would put another service on the sign-in path for a
 * single number; this file is the only place identity touches billing's tables.
 */

import type { PrismaClient } from '@gatehouse/db';
import { SESSIONS_LIMIT_KEY, type PlanSessionLimits } from './plan-session-limit';

/** The Prisma implementation of {@link PlanSessionLimits}. */
export function createPlanSessionLimitsRepository(
  prisma: Pick<PrismaClient, '$queryRaw'>,
): PlanSessionLimits {
  return {
    async sessionsLimitOf(userId) {
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
      // jsonb_typeof is SQL NULL when the key is missing, and 'null' for a JSON null.
      if (!row || row.kind === null) return { type: 'unset' };
      if (row.kind === 'null') return { type: 'unlimited' };
      if (row.value === null) return { type: 'unset' };
      return { type: 'limited', value: row.value };
    },
  };
}
