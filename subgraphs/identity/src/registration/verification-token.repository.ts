import type { PrismaClient } from '@gatehouse/db';

/**
 * Why a link was mailed (issue #14). `SIGN_UP`: for the registration or provider sign-up that created the account,
 * or a resend. `REPEAT_REGISTRATION`: someone registered the address again; verifying with it drops provider links
 * made before verification (it proves the mailbox, not the account's first credentials).
 */
export type VerificationPurpose = 'SIGN_UP' | 'REPEAT_REGISTRATION';

export type ConsumedVerificationToken =
  | { status: 'consumed'; userId: string; email: string; purpose: VerificationPurpose }
  | { status: 'unknown' | 'expired' | 'used' };

export interface VerificationTokenRepository {
  /**
   * Stores a token (its hash) and deletes the user's older unused ones of the same purpose: only the newest link
   * of each purpose works (a repeat registration does not cancel the link the account's own sign-up was sent, and
   * an anonymous resend does not cancel the repeat's). Default purpose: SIGN_UP.
   */
  replaceForUser(input: {
    userId: string;
    email: string;
    tokenHash: string;
    expiresAt: Date;
    purpose?: VerificationPurpose;
  }): Promise<string>;
  /** Marks the token used, atomically: of two concurrent uses exactly one gets `consumed`. */
  consume(tokenHash: string, now: Date): Promise<ConsumedVerificationToken>;
}

export function createVerificationTokenRepository(prisma: PrismaClient): VerificationTokenRepository {
  return {
    async replaceForUser({ userId, email, tokenHash, expiresAt, purpose = 'SIGN_UP' }) {
      const [, created] = await prisma.$transaction([
        prisma.verificationToken.deleteMany({ where: { userId, purpose, consumedAt: null } }),
        prisma.verificationToken.create({
          data: { userId, email, tokenHash, expiresAt, purpose },
          select: { id: true },
        }),
      ]);
      return created.id;
    },
    async consume(tokenHash, now) {
      const rows = await prisma.$queryRaw<{ user_id: string; email: string; purpose: VerificationPurpose }[]>`
        UPDATE "verification_tokens" SET consumed_at = ${now}::timestamptz
        WHERE token_hash = ${tokenHash} AND consumed_at IS NULL AND expires_at > ${now}::timestamptz
        RETURNING user_id, email, purpose::text AS purpose`;
      const row = rows[0];
      if (row) return { status: 'consumed', userId: row.user_id, email: row.email, purpose: row.purpose };
      const existing = await prisma.verificationToken.findUnique({
        where: { tokenHash },
        select: { consumedAt: true },
      });
      if (!existing) return { status: 'unknown' };
      return { status: existing.consumedAt ? 'used' : 'expired' };
    },
  };
}
