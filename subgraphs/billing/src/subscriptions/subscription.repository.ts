import type { Prisma, PrismaClient, SubscriptionStatus } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { SubscriptionModel } from '../models';

/** Statuses of a subscription that has not ended: at most one such subscription per user. */
export const CURRENT_STATUSES: SubscriptionStatus[] = [
  'TRIALING',
  'ACTIVE',
  'PAST_DUE',
  'UNPAID',
  'INCOMPLETE',
  'SUSPENDED',
];

/** The columns of a {@link SubscriptionModel}. */
export const subscriptionColumns = {
  id: true,
  userId: true,
  planId: true,
  status: true,
  currentPeriodStart: true,
  currentPeriodEnd: true,
  cancelAtPeriodEnd: true,
  canceledAt: true,
  trialEndsAt: true,
  priceAmount: true,
  currency: true,
} as const satisfies Prisma.SubscriptionSelect;

export interface SubscriptionRepository {
  /**
   * The current (not ended, not canceled) subscription of each of these users: at most one per user, the
   * most recently created when there are several. Malformed ids are skipped.
   */
  findCurrentForUsers(userIds: readonly string[]): Promise<SubscriptionModel[]>;
}

export function createSubscriptionRepository(prisma: PrismaClient): SubscriptionRepository {
  return {
    async findCurrentForUsers(userIds) {
      const valid = userIds.filter(isUuid);
      if (valid.length === 0) return [];
      const rows = await prisma.subscription.findMany({
        where: { userId: { in: valid }, status: { in: CURRENT_STATUSES }, endedAt: null },
        select: subscriptionColumns,
        orderBy: [{ userId: 'asc' }, { createdAt: 'desc' }],
      });
      const latestPerUser = new Map<string, SubscriptionModel>();
      for (const row of rows) if (!latestPerUser.has(row.userId)) latestPerUser.set(row.userId, row);
      return [...latestPerUser.values()];
    },
  };
}
