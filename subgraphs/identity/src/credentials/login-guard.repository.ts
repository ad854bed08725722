import type { PrismaClient } from '@gatehouse/db';

/** Durable sign-in failure bookkeeping on the users row (failed_login_count, last_failed_login_at, locked_until). */
export interface LoginGuardRepository {
  /** When the account's lock ends, or null when it has none (an expired lock is returned as is). */
  lockedUntil(userId: string): Promise<Date | null>;
  /**
   * Counts one failure at `now` and returns the failures in the current window: the count continues while the
   * previous failure is after `windowStart`, otherwise it restarts at 1. Nothing is counted while the account is
   * locked at `now` (returns null), nor for an unknown user (null).
   */
  recordFailure(userId: string, at: { now: Date; windowStart: Date }): Promise<number | null>;
  /** Failures in the current window without counting one; 0 for an unknown user. */
  failureCount(userId: string, windowStart: Date): Promise<number>;
  /**
   * Locks the account until `until` and clears its failure count, unless it is already locked at `now`.
   * @returns true only for the call that set the lock (row-level atomic: concurrent callers see false).
   */
  lock(userId: string, at: { now: Date; until: Date }): Promise<boolean>;
  /** After a successful sign-in: no failures, no lock. */
  reset(userId: string): Promise<void>;
}

export function createLoginGuardRepository(prisma: PrismaClient): LoginGuardRepository {
  return {
    async lockedUntil(userId) {
      const user = await prisma.user.findUnique({ where: { id: userId }, select: { lockedUntil: true } });
      return user?.lockedUntil ?? null;
    },

    async recordFailure(userId, { now, windowStart }) {
      // One statement, so concurrent failures are serialised by the row lock and none is lost.
      const rows = await prisma.$queryRaw<{ failed_login_count: number }[]>`
        UPDATE users
        SET failed_login_count = CASE
              WHEN last_failed_login_at > ${windowStart}::timestamptz THEN failed_login_count + 1
              ELSE 1
            END,
            last_failed_login_at = ${now}::timestamptz
        WHERE id = ${userId}::uuid
          AND (locked_until IS NULL OR locked_until <= ${now}::timestamptz)
        RETURNING failed_login_count`;
      return rows[0]?.failed_login_count ?? null;
    },

    async failureCount(userId, windowStart) {
      const user = await prisma.user.findUnique({
        where: { id: userId },
        select: { failedLoginCount: true, lastFailedLoginAt: true },
      });
      if (!user?.lastFailedLoginAt || user.lastFailedLoginAt <= windowStart) return 0;
      return user.failedLoginCount;
    },

    async lock(userId, { now, until }) {
      const { count } = await prisma.user.updateMany({
        where: { id: userId, OR: [{ lockedUntil: null }, { lockedUntil: { lte: now } }] },
        data: { lockedUntil: until, failedLoginCount: 0 },
      });
      return count === 1;
    },

    async reset(userId) {
      await prisma.user.updateMany({
        where: { id: userId },
        data: { failedLoginCount: 0, lockedUntil: null },
      });
    },
  };
}
