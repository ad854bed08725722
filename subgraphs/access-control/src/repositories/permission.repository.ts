import type { PrismaClient } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { RolePermissionGrant } from '../models';

export interface PermissionRepository {
  /** Permissions granted directly by these roles, ordered by key; malformed ids are skipped. */
  findGrantsForRoles(roleIds: readonly string[]): Promise<RolePermissionGrant[]>;
  /**
   * Every permission key each user holds now: through unexpired global role grants and every ancestor of those
   * roles. One query for the whole batch; malformed ids are skipped.
   */
  effectiveKeysForUsers(userIds: readonly string[], now: Date): Promise<{ userId: string; key: string }[]>;
}

export function createPermissionRepository(prisma: PrismaClient): PermissionRepository {
  return {
    async findGrantsForRoles(roleIds) {
      const valid = roleIds.filter(isUuid);
      if (valid.length === 0) return [];
      return prisma.rolePermission.findMany({
        where: { roleId: { in: valid } },
        select: { roleId: true, permission: { select: { id: true, key: true, description: true } } },
        orderBy: { permission: { key: 'asc' } },
      });
    },
    async effectiveKeysForUsers(userIds, now) {
      const valid = [...new Set(userIds.filter(isUuid))];
      if (valid.length === 0) return [];
      return prisma.$queryRaw<{ userId: string; key: string }[]>`
        WITH RECURSIVE granted AS (
          SELECT ur.user_id, r.id AS role_id, r.parent_role_id
            FROM "user_roles" ur JOIN "roles" r ON r.id = ur.role_id
           WHERE ur.user_id = ANY(${valid}::uuid[]) AND ur.scope = '*'
             AND (ur.expires_at IS NULL OR ur.expires_at > ${now}::timestamptz)
          UNION
          SELECT g.user_id, p.id, p.parent_role_id
            FROM granted g JOIN "roles" p ON p.id = g.parent_role_id
        )
        SELECT DISTINCT g.user_id::text AS "userId", pm.key
          FROM granted g
          JOIN "role_permissions" rp ON rp.role_id = g.role_id
          JOIN "permissions" pm ON pm.id = rp.permission_id
         ORDER BY 1, 2`;
    },
  };
}
