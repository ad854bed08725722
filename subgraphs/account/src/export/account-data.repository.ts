/**
 * Part of the GDPR export reader (`user-data.ts`): an allow-list `select` per table, as described there;
 * the sanctioned multi-table reader of `docs/architecture.md`.
 */

import type { PrismaClient } from '@gatehouse/db';
import { iso, isoOrNull } from './user-data.format';
import type { AccountDataSection } from './user-data.types';

/**
 * The account tables (`prisma/schema/account.prisma`): notification preferences, unsubscribe receipts and data
 * exports.
 */
export async function readAccountData(prisma: PrismaClient, userId: string): Promise<AccountDataSection> {
  const byUser = { where: { userId } } as const;

  const [preferences, receipts, exports] = await Promise.all([
    prisma.notificationPreference.findMany({
      ...byUser,
      select: { channel: true, category: true, enabled: true, createdAt: true, updatedAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.unsubscribeReceipt.findMany({
      ...byUser,
      select: { channel: true, category: true, usedAt: true },
      orderBy: [{ usedAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.dataExport.findMany({
      ...byUser,
      select: {
        id: true,
        status: true,
        requestedAt: true,
        completedAt: true,
        expiresAt: true,
        sizeBytes: true,
      },
      orderBy: [{ requestedAt: 'asc' }, { id: 'asc' }],
    }),
  ]);

  return {
    notificationPreferences: preferences.map((row) => ({
      ...row,
      createdAt: iso(row.createdAt),
      updatedAt: iso(row.updatedAt),
    })),
    unsubscribeReceipts: receipts.map((row) => ({ ...row, usedAt: iso(row.usedAt) })),
    dataExports: exports.map((row) => ({
      ...row,
      requestedAt: iso(row.requestedAt),
      completedAt: isoOrNull(row.completedAt),
      expiresAt: isoOrNull(row.expiresAt),
    })),
  };
}
