import { Prisma, type PrismaClient } from '@gatehouse/db';
import { isUuid } from './ids';

/** What a user holds right now through global role grants (see {@link effectiveAccessQuery}). */
export interface EffectiveAccess {
  userId: string;
  /** Names of the roles granted directly (not inherited), ordered. */
  roles: string[];
  /** Permission keys of those roles and of every ancestor role, ordered. */
  permissions: string[];
  /** The earliest expiry among the grants counted; null when none expires. */
  expiresAt: Date | null;
}

/**
 * THE effective-permission query, one row per user: unexpired global (`scope = '*'`) role grants, each role's
 * ancestors up the parent chain, and the permissions of them all. The one place this rule is written: access
 * tokens (identity's claims), live permission checks (`createEffectivePermissions`) and access-control's batched
 * reads all run it, so they cannot disagree.
 *
 * Malformed ids are skipped (no row); a known id without grants gets a row with empty arrays. `at` is the instant
 * grants must outlive; without it, the database's `now()`.
 */
export function effectiveAccessQuery(userIds: readonly string[], at?: Date): Prisma.Sql {
  const ids = [...new Set(userIds.filter(isUuid))];
  const instant = at === undefined ? Prisma.sql`now()` : Prisma.sql`${at}::timestamptz`;
  // UNION (not UNION ALL) over finite columns ends even on a parent cycle (which role management refuses).
  return Prisma.sql`
    WITH RECURSIVE granted AS (
      SELECT ur.user_id, r.id AS role_id, r.parent_role_id, ur.expires_at, true AS direct
        FROM "user_roles" ur JOIN "roles" r ON r.id = ur.role_id
       WHERE ur.user_id = ANY(${ids}::uuid[]) AND ur.scope = '*'
         AND (ur.expires_at IS NULL OR ur.expires_at > ${instant})
      UNION
      SELECT g.user_id, p.id, p.parent_role_id, g.expires_at, false
        FROM granted g JOIN "roles" p ON p.id = g.parent_role_id
    )
    SELECT u.user_id::text AS "userId",
           ARRAY(
             SELECT DISTINCT r.name
               FROM granted g JOIN "roles" r ON r.id = g.role_id
              WHERE g.user_id = u.user_id AND g.direct
              ORDER BY 1
           ) AS roles,
           ARRAY(
             SELECT DISTINCT pm.key
               FROM granted g
               JOIN "role_permissions" rp ON rp.role_id = g.role_id
               JOIN "permissions" pm ON pm.id = rp.permission_id
              WHERE g.user_id = u.user_id
              ORDER BY 1
           ) AS permissions,
           (SELECT min(g.expires_at) FROM granted g WHERE g.user_id = u.user_id) AS "expiresAt"
      FROM unnest(${ids}::uuid[]) AS u(user_id)
     ORDER BY 1`;
}

/** Runs {@link effectiveAccessQuery}: one row per well-formed id, ordered by id. */
export async function readEffectiveAccess(
  prisma: Pick<PrismaClient, '$queryRaw'>,
  userIds: readonly string[],
  at?: Date,
): Promise<EffectiveAccess[]> {
  if (!userIds.some(isUuid)) return [];
  return prisma.$queryRaw<EffectiveAccess[]>(effectiveAccessQuery(userIds, at));
}
