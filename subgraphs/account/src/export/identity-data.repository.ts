/**
 * Part of the GDPR export reader (`user-data.ts`): an allow-list `select` per table, as described there;
 * the sanctioned multi-table reader of `docs/architecture.md`.
 */

import type { PrismaClient } from '@gatehouse/db';
import { iso, isoOrNull, maskEmail, maskPhoneNumber } from './user-data.format';
import type { IdentityDataSection } from './user-data.types';

/**
 * The `users` row the export starts from, or null when there is no such user (then nothing else is read).
 */
export function findExportedUser(prisma: PrismaClient, userId: string) {
  return prisma.user.findUnique({
    where: { id: userId },
    select: {
      id: true,
      email: true,
      status: true,
      emailVerified: true,
      emailVerifiedAt: true,
      passwordChangedAt: true,
      mfaEnabled: true,
      mfaEnabledAt: true,
      failedLoginCount: true,
      lastFailedLoginAt: true,
      lockedUntil: true,
      lastLoginAt: true,
      deletedAt: true,
      createdAt: true,
      updatedAt: true,
    },
  });
}

/** The `users` columns the export shows (never the password hash). */
export type ExportedUserRow = NonNullable<Awaited<ReturnType<typeof findExportedUser>>>;

/**
 * The identity tables (`prisma/schema/identity.prisma`): the account itself, its profile, sessions, linked
 * providers, second factors, backup codes, verification and reset links, and the password history.
 */
export async function readIdentityData(
  prisma: PrismaClient,
  userId: string,
  user: ExportedUserRow,
): Promise<IdentityDataSection> {
  const byUser = { where: { userId } } as const;

  const [
    passwordSet,
    profile,
    sessions,
    oauthAccounts,
    factors,
    backupCodes,
    verifications,
    resets,
    passwordHistory,
  ] = await Promise.all([
    // Only whether a hash exists: the hash itself never leaves the database.
    prisma.user.count({ where: { id: userId, passwordHash: { not: null } } }),
    prisma.userProfile.findUnique({
      where: { userId },
      select: {
        displayName: true,
        bio: true,
        phone: true,
        locale: true,
        timezone: true,
        avatarUrl: true,
        createdAt: true,
        updatedAt: true,
      },
    }),
    prisma.session.findMany({
      ...byUser,
      select: {
        id: true,
        deviceName: true,
        deviceType: true,
        os: true,
        browser: true,
        userAgent: true,
        ipAddress: true,
        country: true,
        city: true,
        createdAt: true,
        lastActivityAt: true,
        expiresAt: true,
        revokedAt: true,
        revokeReason: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.oAuthAccount.findMany({
      ...byUser,
      select: {
        provider: true,
        providerAccountId: true,
        email: true,
        emailVerified: true,
        scope: true,
        createdAt: true,
        updatedAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.mfaFactor.findMany({
      ...byUser,
      select: {
        type: true,
        label: true,
        phoneNumber: true,
        email: true,
        verifiedAt: true,
        lastUsedAt: true,
        createdAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.backupCode.findMany({ ...byUser, select: { usedAt: true } }),
    prisma.verificationToken.findMany({
      ...byUser,
      select: { email: true, createdAt: true, expiresAt: true, consumedAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.passwordResetToken.findMany({
      ...byUser,
      select: { requestedIp: true, createdAt: true, expiresAt: true, consumedAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.passwordHistory.findMany({
      ...byUser,
      select: { createdAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
  ]);

  return {
    account: {
      id: user.id,
      email: user.email,
      status: user.status,
      emailVerified: user.emailVerified,
      emailVerifiedAt: isoOrNull(user.emailVerifiedAt),
      hasPassword: passwordSet > 0,
      passwordChangedAt: isoOrNull(user.passwordChangedAt),
      mfaEnabled: user.mfaEnabled,
      mfaEnabledAt: isoOrNull(user.mfaEnabledAt),
      failedLoginCount: user.failedLoginCount,
      lastFailedLoginAt: isoOrNull(user.lastFailedLoginAt),
      lockedUntil: isoOrNull(user.lockedUntil),
      lastLoginAt: isoOrNull(user.lastLoginAt),
      deletedAt: isoOrNull(user.deletedAt),
      createdAt: iso(user.createdAt),
      updatedAt: iso(user.updatedAt),
    },
    profile: profile && {
      ...profile,
      createdAt: iso(profile.createdAt),
      updatedAt: iso(profile.updatedAt),
    },
    sessions: sessions.map((row) => ({
      ...row,
      createdAt: iso(row.createdAt),
      lastActivityAt: iso(row.lastActivityAt),
      expiresAt: iso(row.expiresAt),
      revokedAt: isoOrNull(row.revokedAt),
    })),
    oauthAccounts: oauthAccounts.map(({ createdAt, updatedAt, ...row }) => ({
      ...row,
      linkedAt: iso(createdAt),
      updatedAt: iso(updatedAt),
    })),
    mfaFactors: factors.map((row) => ({
      type: row.type,
      label: row.label,
      destination: row.phoneNumber
        ? maskPhoneNumber(row.phoneNumber)
        : row.email
          ? maskEmail(row.email)
          : null,
      verifiedAt: isoOrNull(row.verifiedAt),
      lastUsedAt: isoOrNull(row.lastUsedAt),
      createdAt: iso(row.createdAt),
    })),
    backupCodes: {
      total: backupCodes.length,
      unused: backupCodes.filter((code) => code.usedAt === null).length,
    },
    emailVerifications: verifications.map((row) => ({
      email: row.email,
      requestedAt: iso(row.createdAt),
      expiresAt: iso(row.expiresAt),
      consumedAt: isoOrNull(row.consumedAt),
    })),
    passwordResets: resets.map((row) => ({
      requestedAt: iso(row.createdAt),
      requestedIp: row.requestedIp,
      expiresAt: iso(row.expiresAt),
      consumedAt: isoOrNull(row.consumedAt),
    })),
    passwordHistory: passwordHistory.map((row) => ({ changedAt: iso(row.createdAt) })),
  };
}
