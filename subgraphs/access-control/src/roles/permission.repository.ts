import type { PrismaClient } from '@gatehouse/db';
import { isUuid, readEffectiveAccess } from '@gatehouse/service';
import type { PermissionModel, RolePermissionGrant } from '../models';

/** Reads of the permission registry and of who holds which permission. */
export interface PermissionRepository {
  /** The whole registry, ordered by key. */
  findAll(): Promise<PermissionModel[]>;
  findByKey(key: string): Promise<PermissionModel | null>;
  /**
   * Every way `key` reaches the user: role-id paths from a role granted directly (unexpired, global) up the
   * parent chain to a role granting `key` itself; shortest first.
   */
  grantPaths(userId: string, key: string, now: Date): Promise<string[][]>;
  /** Permissions granted directly by these roles, ordered by key; malformed ids are skipped. */
  findGrantsForRoles(roleIds: readonly string[]): Promise<RolePermissionGrant[]>;
  /**
   * Every permission key each user holds now: through unexpired global role grants and every ancestor of those
   * roles. One query for the whole batch; malformed ids are skipped.
   */
  effectiveKeysForUsers(userIds: readonly string[], now: Date): Promise<{ userId: string; key: string }[]>;
}

/** The Prisma implementation of {@link PermissionRepository}. */
export function createPermissionRepository(prisma: PrismaClient): PermissionRepository {
  return {
    findAll: () =>
      prisma.permission.findMany({
        select: { id: true, key: true, description: true },
        orderBy: { key: 'asc' },
      }),
    findByKey: (key) =>
      prisma.permission.findUnique({ where: { key }, select: { id: true, key: true, description: true } }),
    async grantPaths(userId, key, now) {
      if (!isUuid(userId)) return [];
      const rows = await prisma.$queryRaw<{ path: string[] }[]>`
        WITH RECURSIVE chain AS (
          SELECT r.id, r.parent_role_id, ARRAY[r.id] AS path
            FROM "user_roles" ur JOIN "roles" r ON r.id = ur.role_id
           WHERE ur.user_id = ${userId}::uuid AND ur.scope = '*'
             AND (ur.expires_at IS NULL OR ur.expires_at > ${now}::timestamptz)
          UNION ALL
          SELECT p.id, p.parent_role_id, c.path || p.id
            FROM chain c JOIN "roles" p ON p.id = c.parent_role_id
           WHERE NOT p.id = ANY(c.path)
        )
        SELECT c.path::text[] AS path
          FROM chain c
          JOIN "role_permissions" rp ON rp.role_id = c.id
          JOIN "permissions" pm ON pm.id = rp.permission_id
         WHERE pm.key = ${key}
         ORDER BY array_length(c.path, 1), c.path`;
      return rows.map((row) => row.path);
    },
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
      const access = await readEffectiveAccess(prisma, userIds, now);
      return access.flatMap(({ userId, permissions }) => permissions.map((key) => ({ userId, key })));
    },
  };
}
