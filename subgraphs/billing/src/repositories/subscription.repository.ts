import type { PrismaClient, SubscriptionStatus } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { SubscriptionModel } from '../models';

/** Statuses of a subscription that has not ended. */
const CURRENT_STATUSES: SubscriptionStatus[] = [
  'TRIALING',
  'ACTIVE',
  'PAST_DUE',
  'UNPAID',
  'INCOMPLETE',
  'SUSPENDED',
];

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
        select: {
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
        },
        orderBy: [{ userId: 'asc' }, { createdAt: 'desc' }],
      });
      const latestPerUser = new Map<string, SubscriptionModel>();
      for (const row of rows) if (!latestPerUser.has(row.userId)) latestPerUser.set(row.userId, row);
      return [...latestPerUser.values()];
    },
  };
}
