import type { PrismaClient } from '@gatehouse/db';

export type ConsumedVerificationToken =
  { status: 'consumed'; userId: string; email: string } | { status: 'unknown' | 'expired' | 'used' };

export interface VerificationTokenRepository {
  /** Stores a token (its hash) and deletes the user's older unused ones: only the newest link works. */
  replaceForUser(input: {
    userId: string;
    email: string;
    tokenHash: string;
    expiresAt: Date;
  }): Promise<string>;
  /** Marks the token used, atomically: of two concurrent uses exactly one gets `consumed`. */
  consume(tokenHash: string, now: Date): Promise<ConsumedVerificationToken>;
}

export function createVerificationTokenRepository(prisma: PrismaClient): VerificationTokenRepository {
  return {
    async replaceForUser({ userId, email, tokenHash, expiresAt }) {
      const [, created] = await prisma.$transaction([
        prisma.verificationToken.deleteMany({ where: { userId, consumedAt: null } }),
        prisma.verificationToken.create({
          data: { userId, email, tokenHash, expiresAt },
          select: { id: true },
        }),
      ]);
      return created.id;
    },
    async consume(tokenHash, now) {
      const rows = await prisma.$queryRaw<{ user_id: string; email: string }[]>`
        UPDATE "verification_tokens" SET consumed_at = ${now}::timestamptz
        WHERE token_hash = ${tokenHash} AND consumed_at IS NULL AND expires_at > ${now}::timestamptz
        RETURNING user_id, email`;
      const row = rows[0];
      if (row) return { status: 'consumed', userId: row.user_id, email: row.email };
      const existing = await prisma.verificationToken.findUnique({
        where: { tokenHash },
        select: { consumedAt: true },
      });
      if (!existing) return { status: 'unknown' };
      return { status: existing.consumedAt ? 'used' : 'expired' };
    },
  };
}
