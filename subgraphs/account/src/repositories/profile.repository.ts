import type { PrismaClient } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { ProfileModel } from '../models';

const profileColumns = {
  userId: true,
  displayName: true,
  avatarUrl: true,
  locale: true,
  timezone: true,
  bio: true,
} as const;

export interface ProfileRepository {
  /** Profiles of these users (at most one each), in no particular order; malformed ids are skipped. */
  findByUserIds(userIds: readonly string[]): Promise<ProfileModel[]>;
}

export function createProfileRepository(prisma: PrismaClient): ProfileRepository {
  return {
    async findByUserIds(userIds) {
      const valid = userIds.filter(isUuid);
      if (valid.length === 0) return [];
      return prisma.userProfile.findMany({ where: { userId: { in: valid } }, select: profileColumns });
    },
  };
}
