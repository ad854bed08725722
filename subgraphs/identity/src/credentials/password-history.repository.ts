import type { PrismaClient } from '@gatehouse/db';

export interface PasswordHistoryRepository {
  /**
   * The user's current password hash (when set) followed by up to `last` earlier hashes, newest first.
   * Empty for an unknown user.
   */
  recentHashes(userId: string, last: number): Promise<string[]>;
  /** Stores `passwordHash` as the newest history entry and deletes all but the newest `keep` entries, atomically. */
  remember(userId: string, passwordHash: string, keep: number): Promise<void>;
}

export function createPasswordHistoryRepository(prisma: PrismaClient): PasswordHistoryRepository {
  return {
    async recentHashes(userId, last) {
      const user = await prisma.user.findUnique({
        where: { id: userId },
        select: {
          passwordHash: true,
          passwordHistory: {
            select: { passwordHash: true },
            orderBy: { createdAt: 'desc' },
            take: last,
          },
        },
      });
      if (!user) return [];
      const history = user.passwordHistory.map((entry) => entry.passwordHash);
      return user.passwordHash ? [user.passwordHash, ...history] : history;
    },

    async remember(userId, passwordHash, keep) {
      await prisma.$transaction(async (tx) => {
        // Order is by created_at (millisecond precision): keep it strictly increasing per user so two changes
        // within one millisecond cannot swap places and prune the wrong row.
        const newest = await tx.passwordHistory.findFirst({
          where: { userId },
          select: { createdAt: true },
          orderBy: { createdAt: 'desc' },
        });
        const now = Date.now();
        const createdAt = new Date(newest ? Math.max(now, newest.createdAt.getTime() + 1) : now);
        await tx.passwordHistory.create({ data: { userId, passwordHash, createdAt } });
        const kept = await tx.passwordHistory.findMany({
          where: { userId },
          select: { id: true },
          orderBy: { createdAt: 'desc' },
          take: keep,
        });
        await tx.passwordHistory.deleteMany({
          where: { userId, id: { notIn: kept.map((entry) => entry.id) } },
        });
      });
    },
  };
}
