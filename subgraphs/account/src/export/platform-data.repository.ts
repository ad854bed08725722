/**
 * Part of the GDPR export reader (`user-data.ts`): an allow-list `select` per table, as described there;
 * the sanctioned multi-table reader of `docs/architecture.md`.
 */

import type { PrismaClient } from '@gatehouse/db';
import { iso, isoOrNull } from './user-data.format';
import type { PlatformDataSection } from './user-data.types';

/**
 * The shared tables: role grants (`access-control.prisma`), e-mail deliveries (`notifications.prisma`) and the
 * audit log (`platform.prisma`).
 */
export async function readPlatformData(prisma: PrismaClient, userId: string): Promise<PlatformDataSection> {
  const byUser = { where: { userId } } as const;

  const [roles, deliveries, audit] = await Promise.all([
    prisma.userRole.findMany({
      ...byUser,
      select: { scope: true, createdAt: true, expiresAt: true, role: { select: { name: true } } },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.emailDelivery.findMany({
      ...byUser,
      select: { template: true, recipient: true, subject: true, status: true, createdAt: true, sentAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.auditLog.findMany({
      where: { OR: [{ actorUserId: userId }, { targetType: 'User', targetId: userId }] },
      select: {
        id: true,
        createdAt: true,
        actorUserId: true,
        action: true,
        targetType: true,
        targetId: true,
        ipAddress: true,
        userAgent: true,
        metadata: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
  ]);

  return {
    roles: roles.map((row) => ({
      name: row.role.name,
      scope: row.scope,
      grantedAt: iso(row.createdAt),
      expiresAt: isoOrNull(row.expiresAt),
    })),
    emailDeliveries: deliveries.map((row) => ({
      ...row,
      createdAt: iso(row.createdAt),
      sentAt: isoOrNull(row.sentAt),
    })),
    auditLog: audit.map((row) => {
      const actor = row.actorUserId === userId ? 'self' : row.actorUserId === null ? 'system' : 'other';
      return {
        id: row.id,
        at: iso(row.createdAt),
        action: row.action,
        actor,
        targetType: row.targetType,
        targetId: row.targetId,
        ipAddress: actor === 'self' ? row.ipAddress : null,
        userAgent: actor === 'self' ? row.userAgent : null,
        metadata: row.metadata,
      };
    }),
  };
}
