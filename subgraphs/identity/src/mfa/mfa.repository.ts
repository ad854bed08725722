import type { Prisma, PrismaClient } from '@gatehouse/db';
import type { MfaFactorType } from './mfa.types';

/** One row of mfa_factors. `secretEncrypted` is an EnvelopeCipher envelope bound to the factor id. */
export interface MfaFactorRecord {
  id: string;
  userId: string;
  type: MfaFactorType;
  label: string | null;
  secretEncrypted: string | null;
  phoneNumber: string | null;
  email: string | null;
  lastUsedStep: number | null;
  verifiedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

/** What a sign-in and the account's security page need to know. */
export interface MfaState {
  /** users.mfa_enabled; false for an unknown or deleted user. */
  mfaEnabled: boolean;
  /** Verified factors, oldest first. */
  factors: MfaFactorRecord[];
  backupCodesRemaining: number;
}

/** A factor being enrolled (unverified until confirmed). */
export interface NewPendingFactor {
  id: string;
  userId: string;
  type: MfaFactorType;
  label?: string | null;
  secretEncrypted?: string | null;
  phoneNumber?: string | null;
  email?: string | null;
}

/** What {@link MfaRepository.verifyFactor} did. */
export type VerifyFactorResult =
  /** `enabledMfa`: this factor turned MFA on, and the given backup codes were stored. */
  | { status: 'verified'; enabledMfa: boolean }
  /** Another factor of this type was verified first. */
  | { status: 'already-enrolled' }
  /** No such unverified factor (replaced by a newer enrollment, verified concurrently, or MFA was turned off). */
  | { status: 'not-found' };

/**
 * mfa_factors, backup_codes and the users.mfa_enabled flag. Every change that involves more than one row runs in
 * a transaction holding the user's row lock, so concurrent enrollments, confirmations and disables of one account
 * are serialised and `mfa_enabled` always agrees with "has a verified factor".
 */
export interface MfaRepository {
  state(userId: string): Promise<MfaState>;
  findFactor(userId: string, factorId: string): Promise<MfaFactorRecord | null>;
  /** The newest unverified factor of this type. */
  findPendingFactor(userId: string, type: MfaFactorType): Promise<MfaFactorRecord | null>;
  /**
   * Replaces the user's unverified factors of this type with a new one, unless one of this type is verified.
   * @returns false when a verified factor of this type exists (nothing is written).
   */
  replacePendingFactor(factor: NewPendingFactor): Promise<boolean>;
  /**
   * Marks the pending factor verified (recording `step` as its last used TOTP step); when MFA was off, turns it on
   * and replaces the backup codes with `backupCodeHashes`, all in one transaction.
   */
  verifyFactor(input: {
    userId: string;
    factorId: string;
    type: MfaFactorType;
    at: Date;
    step: number | null;
    backupCodeHashes: readonly string[];
  }): Promise<VerifyFactorResult>;
  /**
   * Records `step` as the factor's last used TOTP step, in one statement, only if it is later than the recorded
   * one: concurrent submissions of the same code cannot both succeed.
   * @returns false for a replay (the step, or a later one, was used already).
   */
  claimTotpStep(factorId: string, step: number, at: Date): Promise<boolean>;
  /** Records that an SMS/e-mail factor just passed a challenge. */
  markFactorUsed(factorId: string, at: Date): Promise<void>;
  /**
   * Marks the unused code with this hash used, in one statement (single use under concurrency).
   * @returns the code's id and how many unused codes are left, or null when no unused code has this hash.
   */
  consumeBackupCode(
    userId: string,
    codeHash: string,
    at: Date,
  ): Promise<{ id: string; remaining: number } | null>;
  /**
   * Replaces every backup code of the user with these hashes, if MFA is on.
   * @returns false when MFA is off (nothing is written).
   */
  replaceBackupCodes(userId: string, codeHashes: readonly string[]): Promise<boolean>;
  /**
   * Deletes every factor and backup code and turns MFA off.
   * @returns whether MFA was on.
   */
  disable(userId: string): Promise<boolean>;
}

const factorColumns = {
  id: true,
  userId: true,
  type: true,
  label: true,
  secretEncrypted: true,
  phoneNumber: true,
  email: true,
  lastUsedStep: true,
  verifiedAt: true,
  lastUsedAt: true,
  createdAt: true,
} as const satisfies Prisma.MfaFactorSelect;

/** Takes the user's row lock for the rest of the transaction; false when the user does not exist. */
async function lockUser(
  tx: Prisma.TransactionClient,
  userId: string,
): Promise<{ mfaEnabled: boolean } | null> {
  const rows = await tx.$queryRaw<{ mfa_enabled: boolean }[]>`
    SELECT mfa_enabled FROM users WHERE id = ${userId}::uuid AND deleted_at IS NULL FOR UPDATE`;
  const row = rows[0];
  return row ? { mfaEnabled: row.mfa_enabled } : null;
}

/** The Prisma implementation of {@link MfaRepository}. */
export function createMfaRepository(prisma: PrismaClient): MfaRepository {
  return {
    async state(userId) {
      const [user, factors, backupCodesRemaining] = await Promise.all([
        prisma.user.findFirst({ where: { id: userId, deletedAt: null }, select: { mfaEnabled: true } }),
        prisma.mfaFactor.findMany({
          where: { userId, verifiedAt: { not: null } },
          select: factorColumns,
          orderBy: [{ verifiedAt: 'asc' }, { id: 'asc' }],
        }),
        prisma.backupCode.count({ where: { userId, usedAt: null } }),
      ]);
      return { mfaEnabled: user?.mfaEnabled ?? false, factors, backupCodesRemaining };
    },

    findFactor: (userId, factorId) =>
      prisma.mfaFactor.findFirst({ where: { id: factorId, userId }, select: factorColumns }),

    findPendingFactor: (userId, type) =>
      prisma.mfaFactor.findFirst({
        where: { userId, type, verifiedAt: null },
        select: factorColumns,
        orderBy: { createdAt: 'desc' },
      }),

    async replacePendingFactor(factor) {
      return prisma.$transaction(async (tx) => {
        if (!(await lockUser(tx, factor.userId))) return false;
        const verified = await tx.mfaFactor.findFirst({
          where: { userId: factor.userId, type: factor.type, verifiedAt: { not: null } },
          select: { id: true },
        });
        if (verified) return false;
        await tx.mfaFactor.deleteMany({
          where: { userId: factor.userId, type: factor.type, verifiedAt: null },
        });
        await tx.mfaFactor.create({
          data: {
            id: factor.id,
            userId: factor.userId,
            type: factor.type,
            label: factor.label ?? null,
            secretEncrypted: factor.secretEncrypted ?? null,
            phoneNumber: factor.phoneNumber ?? null,
            email: factor.email ?? null,
          },
          select: { id: true },
        });
        return true;
      });
    },

    async verifyFactor({ userId, factorId, type, at, step, backupCodeHashes }) {
      return prisma.$transaction(async (tx): Promise<VerifyFactorResult> => {
        const user = await lockUser(tx, userId);
        if (!user) return { status: 'not-found' };
        const verified = await tx.mfaFactor.findFirst({
          where: { userId, type, verifiedAt: { not: null } },
          select: { id: true },
        });
        if (verified) return { status: 'already-enrolled' };
        const updated = await tx.mfaFactor.updateMany({
          where: { id: factorId, userId, type, verifiedAt: null },
          data: { verifiedAt: at, lastUsedAt: at, ...(step === null ? {} : { lastUsedStep: step }) },
        });
        if (updated.count === 0) return { status: 'not-found' };
        if (user.mfaEnabled) return { status: 'verified', enabledMfa: false };
        await tx.user.update({ where: { id: userId }, data: { mfaEnabled: true, mfaEnabledAt: at } });
        await tx.backupCode.deleteMany({ where: { userId } });
        await tx.backupCode.createMany({ data: backupCodeHashes.map((codeHash) => ({ userId, codeHash })) });
        return { status: 'verified', enabledMfa: true };
      });
    },

    async claimTotpStep(factorId, step, at) {
      const rows = await prisma.$queryRaw<{ id: string }[]>`
        UPDATE mfa_factors
           SET last_used_step = ${step}, last_used_at = ${at}::timestamptz, updated_at = ${at}::timestamptz
         WHERE id = ${factorId}::uuid
           AND verified_at IS NOT NULL
           AND (last_used_step IS NULL OR last_used_step < ${step})
        RETURNING id`;
      return rows.length === 1;
    },

    async markFactorUsed(factorId, at) {
      await prisma.mfaFactor.updateMany({ where: { id: factorId }, data: { lastUsedAt: at } });
    },

    async consumeBackupCode(userId, codeHash, at) {
      const used = await prisma.$queryRaw<{ id: string }[]>`
        UPDATE backup_codes SET used_at = ${at}::timestamptz
         WHERE user_id = ${userId}::uuid AND code_hash = ${codeHash} AND used_at IS NULL
        RETURNING id`;
      const row = used[0];
      if (!row) return null;
      const remaining = await prisma.backupCode.count({ where: { userId, usedAt: null } });
      return { id: row.id, remaining };
    },

    async replaceBackupCodes(userId, codeHashes) {
      return prisma.$transaction(async (tx) => {
        const user = await lockUser(tx, userId);
        if (!user?.mfaEnabled) return false;
        await tx.backupCode.deleteMany({ where: { userId } });
        await tx.backupCode.createMany({ data: codeHashes.map((codeHash) => ({ userId, codeHash })) });
        return true;
      });
    },

    async disable(userId) {
      return prisma.$transaction(async (tx) => {
        const user = await lockUser(tx, userId);
        if (!user) return false;
        await tx.mfaFactor.deleteMany({ where: { userId } });
        await tx.backupCode.deleteMany({ where: { userId } });
        await tx.user.update({ where: { id: userId }, data: { mfaEnabled: false, mfaEnabledAt: null } });
        return user.mfaEnabled;
      });
    },
  };
}
