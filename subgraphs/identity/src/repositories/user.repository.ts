import type { PrismaClient } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { UserModel } from '../models';

/** Columns resolvers may read; credentials are never selected. */
const userColumns = { id: true, email: true, emailVerified: true, status: true, createdAt: true } as const;

export interface UserRepository {
  /** Live (not deleted) users with these ids, in no particular order; unknown or malformed ids are skipped. */
  findByIds(ids: readonly string[]): Promise<UserModel[]>;
}

export function createUserRepository(prisma: PrismaClient): UserRepository {
  return {
    async findByIds(ids) {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return [];
      return prisma.user.findMany({ where: { id: { in: valid }, deletedAt: null }, select: userColumns });
    },
  };
}
