import type { PrismaClient } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { RolePermissionGrant } from '../models';

export interface PermissionRepository {
  /** Permissions granted directly by these roles, ordered by key; malformed ids are skipped. */
  findGrantsForRoles(roleIds: readonly string[]): Promise<RolePermissionGrant[]>;
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
  };
}
