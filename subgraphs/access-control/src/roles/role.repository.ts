import type { PrismaClient } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { RoleModel, UserRoleGrant } from '../models';

const roleColumns = { id: true, name: true, description: true, isSystem: true, parentRoleId: true } as const;

/** Reads of roles and role grants. */
export interface RoleRepository {
  /** Every role, ordered by name. */
  findAll(): Promise<RoleModel[]>;
  /** Roles whose parent is `parentId` (roles without a parent for `null`), ordered by name. */
  findByParent(parentId: string | null): Promise<RoleModel[]>;
  /** Roles with these ids, in no particular order; malformed ids are skipped. */
  findByIds(ids: readonly string[]): Promise<RoleModel[]>;
  /** Unexpired role grants of these users, ordered by role name; malformed ids are skipped. */
  findGrantsForUsers(userIds: readonly string[], now: Date): Promise<UserRoleGrant[]>;
}

/** The Prisma implementation of {@link RoleRepository}. */
export function createRoleRepository(prisma: PrismaClient): RoleRepository {
  return {
    findAll: () => prisma.role.findMany({ select: roleColumns, orderBy: { name: 'asc' } }),
    async findByParent(parentId) {
      if (parentId !== null && !isUuid(parentId)) return [];
      return prisma.role.findMany({
        where: { parentRoleId: parentId },
        select: roleColumns,
        orderBy: { name: 'asc' },
      });
    },
    async findByIds(ids) {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return [];
      return prisma.role.findMany({ where: { id: { in: valid } }, select: roleColumns });
    },
    async findGrantsForUsers(userIds, now) {
      const valid = userIds.filter(isUuid);
      if (valid.length === 0) return [];
      return prisma.userRole.findMany({
        where: { userId: { in: valid }, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
        select: { userId: true, role: { select: roleColumns } },
        orderBy: { role: { name: 'asc' } },
      });
    },
  };
}
