import { Prisma, type PrismaClient } from '@gatehouse/db';

/**
 * Durable sign-in failure bookkeeping on the users row (failed_login_count, last_failed_login_at, locked_until, and
 * for the second factor mfa_failed_count, last_mfa_failed_at).
 */
export interface LoginGuardRepository {
  /** When the account's lock ends, or null when it has none (an expired lock is returned as is). */
  lockedUntil(userId: string): Promise<Date | null>;
  /**
   * Counts one failure at `now` and returns the failures in the current window: the count continues while the
   * previous failure is after `windowStart`, otherwise it restarts at 1. Nothing is counted while the account is
   * locked at `now` (returns null), nor for an unknown user (null).
   */
  recordFailure(userId: string, at: { now: Date; windowStart: Date }): Promise<number | null>;
  /**
   * Like {@link recordFailure}, for an attempt whose password is yet to be verified: counted only while fewer than
   * `maxFailures` are in the window, so concurrent attempts can never have more than that many verified.
   */
  reserveFailure(
    userId: string,
    at: { now: Date; windowStart: Date; maxFailures: number },
  ): Promise<number | null>;
  /** Failures in the current window without counting one; 0 for an unknown user. */
  failureCount(userId: string, windowStart: Date): Promise<number>;
  /**
   * Locks the account until `until` and clears its failure count, unless it is already locked at `now`.
   * @returns true only for the call that set the lock (row-level atomic: concurrent callers see false).
   */
  lock(userId: string, at: { now: Date; until: Date }): Promise<boolean>;
  /** After a successful sign-in: no failures, no lock. */
  reset(userId: string): Promise<void>;
  /**
   * Counts one second-factor attempt at `now`, before its code is checked: one statement, so concurrent attempts
   * are serialised by the row lock and at most `maxFailures` are counted per window. The count continues while
   * the previous attempt is after `windowStart`, otherwise it restarts at 1.
   * @returns the attempts in the current window, this one included; null when none may be made (the limit is
   * reached, the account is locked at `now`, or the user is unknown).
   */
  reserveSecondFactorAttempt(
    userId: string,
    at: { now: Date; windowStart: Date; maxFailures: number },
  ): Promise<number | null>;
  /** After a passed second factor: no second-factor attempts counted (the password's count is left alone). */
  resetSecondFactor(userId: string): Promise<void>;
}

/** The two attempt counters on the users row: the password's and the second factor's. Trusted identifiers. */
const COUNTERS = {
  password: { count: Prisma.raw('failed_login_count'), last: Prisma.raw('last_failed_login_at') },
  secondFactor: { count: Prisma.raw('mfa_failed_count'), last: Prisma.raw('last_mfa_failed_at') },
} as const;

/**
 * Counts one attempt on `counter` at `now` in one statement, so concurrent attempts are serialised by the row lock
 * and none is lost. The count continues while the previous attempt is after `windowStart`, otherwise it restarts
 * at 1. Nothing is counted while the account is locked at `now`, nor (with `maxFailures`) once that many attempts
 * are in the window.
 * @returns the attempts in the window, this one included; null when it was not counted or the user is unknown.
 */
async function countAttempt(
  prisma: PrismaClient,
  counter: keyof typeof COUNTERS,
  userId: string,
  { now, windowStart, maxFailures }: { now: Date; windowStart: Date; maxFailures?: number },
): Promise<number | null> {
  const { count, last } = COUNTERS[counter];
  const belowLimit =
    maxFailures === undefined
      ? Prisma.empty
      : Prisma.sql`AND (${last} IS NULL OR ${last} <= ${windowStart}::timestamptz OR ${count} < ${maxFailures}::int)`;
  const rows = await prisma.$queryRaw<{ attempts: number }[]>`
    UPDATE users
    SET ${count} = CASE WHEN ${last} > ${windowStart}::timestamptz THEN ${count} + 1 ELSE 1 END,
        ${last} = ${now}::timestamptz
    WHERE id = ${userId}::uuid
      AND (locked_until IS NULL OR locked_until <= ${now}::timestamptz)
      ${belowLimit}
    RETURNING ${count} AS attempts`;
  return rows[0]?.attempts ?? null;
}

export function createLoginGuardRepository(prisma: PrismaClient): LoginGuardRepository {
  return {
    async lockedUntil(userId) {
      const user = await prisma.user.findUnique({ where: { id: userId }, select: { lockedUntil: true } });
      return user?.lockedUntil ?? null;
    },

    recordFailure: (userId, at) => countAttempt(prisma, 'password', userId, at),
    reserveFailure: (userId, at) => countAttempt(prisma, 'password', userId, at),

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
        // A lock gives a fresh start when it ends, to the password and the second factor alike.
        data: { lockedUntil: until, failedLoginCount: 0, mfaFailedCount: 0 },
      });
      return count === 1;
    },

    async reset(userId) {
      await prisma.user.updateMany({
        where: { id: userId },
        data: { failedLoginCount: 0, lockedUntil: null },
      });
    },

    reserveSecondFactorAttempt: (userId, at) => countAttempt(prisma, 'secondFactor', userId, at),

    async resetSecondFactor(userId) {
      await prisma.user.updateMany({
        where: { id: userId },
        data: { mfaFailedCount: 0, lastMfaFailedAt: null },
      });
    },
  };
}
