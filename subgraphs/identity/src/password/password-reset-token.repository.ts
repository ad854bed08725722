import type { PrismaClient } from '@gatehouse/db';

export type PasswordResetTokenState =
  { status: 'valid'; userId: string } | { status: 'unknown' | 'expired' | 'used' };

export interface PasswordResetTokenRepository {
  /**
   * Stores a token (its hash) and deletes the user's older unconsumed ones in one transaction: only the newest
   * link works. Consumed rows stay as the record of past resets.
   */
  replaceForUser(input: {
    userId: string;
    tokenHash: string;
    expiresAt: Date;
    requestedIp: string | null;
  }): Promise<string>;
  /** Reads the token's state without consuming it. */
  find(tokenHash: string, now: Date): Promise<PasswordResetTokenState>;
  /** Marks the token used, atomically: of two concurrent uses exactly one gets `valid`. */
  consume(tokenHash: string, now: Date): Promise<PasswordResetTokenState>;
}

export function createPasswordResetTokenRepository(prisma: PrismaClient): PasswordResetTokenRepository {
  async function stateOf(tokenHash: string, now: Date): Promise<PasswordResetTokenState> {
    const row = await prisma.passwordResetToken.findUnique({
      where: { tokenHash },
      select: { userId: true, consumedAt: true, expiresAt: true },
    });
    if (!row) return { status: 'unknown' };
    if (row.consumedAt) return { status: 'used' };
    if (row.expiresAt.getTime() <= now.getTime()) return { status: 'expired' };
    return { status: 'valid', userId: row.userId };
  }

  return {
    async replaceForUser({ userId, tokenHash, expiresAt, requestedIp }) {
      const [, created] = await prisma.$transaction([
        prisma.passwordResetToken.deleteMany({ where: { userId, consumedAt: null } }),
        prisma.passwordResetToken.create({
          data: { userId, tokenHash, expiresAt, requestedIp },
          select: { id: true },
        }),
      ]);
      return created.id;
    },

    find: stateOf,

    async consume(tokenHash, now) {
      const rows = await prisma.$queryRaw<{ user_id: string }[]>`
        UPDATE "password_reset_tokens" SET consumed_at = ${now}::timestamptz
        WHERE token_hash = ${tokenHash} AND consumed_at IS NULL AND expires_at > ${now}::timestamptz
        RETURNING user_id`;
      const row = rows[0];
      if (row) return { status: 'valid', userId: row.user_id };
      const state = await stateOf(tokenHash, now);
      // Lost a race against a concurrent consume between the UPDATE and the read: it is used now.
      return state.status === 'valid' ? { status: 'used' } : state;
    },
  };
}
