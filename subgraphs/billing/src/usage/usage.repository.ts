import type { PrismaClient, SubscriptionStatus } from '@gatehouse/db';
import { isPrismaKnownRequestError } from '@gatehouse/errors';

/** A subscription as metering sees it: its status, current period and plan limits (unparsed JSON). */
export interface MeteredSubscription {
  status: SubscriptionStatus;
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
  plan: { code: string; limits: unknown };
}

export interface NewUsageRecord {
  subscriptionId: string;
  metric: string;
  quantity: bigint;
  periodStart: Date;
  recordedAt: Date;
  idempotencyKey: string;
}

/** usage_records (the durable truth behind the counters) and what metering reads of subscriptions and plans. */
export interface UsageRepository {
  /** The `limits` JSON of the plan with this code; null when there is no such plan. */
  findPlanLimitsByCode(code: string): Promise<{ limits: unknown } | null>;
  /** The user's newest not-ended subscription in one of `statuses`. */
  findNewestSubscriptionOfUser(
    userId: string,
    statuses: readonly SubscriptionStatus[],
  ): Promise<(MeteredSubscription & { id: string }) | null>;
  findSubscription(id: string): Promise<MeteredSubscription | null>;
  /** SUM(quantity) of the records of one counter (0 without records). */
  sumQuantity(subscriptionId: string, metric: string, periodStart: Date): Promise<number>;
  findRecordByIdempotencyKey(key: string): Promise<{ metric: string; quantity: bigint } | null>;
  /** @throws the database's unique violation when the idempotency key is stored already (see {@link isDuplicateUsageRecord}). */
  insertRecord(record: NewUsageRecord): Promise<void>;
}

/** Whether `error` is a unique violation from {@link UsageRepository.insertRecord}. */
export function isDuplicateUsageRecord(error: unknown): boolean {
  return isPrismaKnownRequestError(error) && error.code === 'P2002';
}

const meteredSelect = {
  status: true,
  currentPeriodStart: true,
  currentPeriodEnd: true,
  plan: { select: { code: true, limits: true } },
} as const;

export function createUsageRepository(prisma: PrismaClient): UsageRepository {
  return {
    findPlanLimitsByCode: (code) =>
      prisma.subscriptionPlan.findUnique({ where: { code }, select: { limits: true } }),
    findNewestSubscriptionOfUser: (userId, statuses) =>
      prisma.subscription.findFirst({
        where: { userId, status: { in: [...statuses] }, endedAt: null },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        select: { id: true, ...meteredSelect },
      }),
    findSubscription: (id) => prisma.subscription.findUnique({ where: { id }, select: meteredSelect }),
    async sumQuantity(subscriptionId, metric, periodStart) {
      const { _sum } = await prisma.usageRecord.aggregate({
        where: { subscriptionId, metric, periodStart },
        _sum: { quantity: true },
      });
      return Number(_sum.quantity ?? 0n);
    },
    findRecordByIdempotencyKey: (key) =>
      prisma.usageRecord.findUnique({
        where: { idempotencyKey: key },
        select: { metric: true, quantity: true },
      }),
    async insertRecord(record) {
      await prisma.usageRecord.create({ data: record, select: { id: true } });
    },
  };
}
