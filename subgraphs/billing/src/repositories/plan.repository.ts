import type { PlanInterval, Prisma, PrismaClient } from '@gatehouse/db';
import { isUuid } from '@gatehouse/service';
import type { PlanLimitModel, PlanModel } from '../models';

export const planColumns = {
  id: true,
  code: true,
  name: true,
  description: true,
  priceAmount: true,
  currency: true,
  interval: true,
  intervalCount: true,
  trialDays: true,
  features: true,
  limits: true,
  version: true,
  active: true,
} as const;

type PlanRow = Prisma.SubscriptionPlanGetPayload<{ select: typeof planColumns }>;

/** `features` is a JSON array of strings; anything else in it is ignored rather than failing the catalog. */
function parseFeatures(value: Prisma.JsonValue): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** `limits` is a JSON object `{ key: number | null }` (null = unlimited), ordered by key for stable output. */
function parseLimits(value: Prisma.JsonValue): PlanLimitModel[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value)
    .filter((entry): entry is [string, number | null] => entry[1] === null || Number.isInteger(entry[1]))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, limit]) => ({ key, value: limit }));
}

export function toPlan(row: PlanRow): PlanModel {
  return { ...row, features: parseFeatures(row.features), limits: parseLimits(row.limits) };
}

export interface PlanRepository {
  /** Active plans, cheapest first (then by code, for a stable order), optionally of one interval. */
  findActive(interval?: PlanInterval): Promise<PlanModel[]>;
  /** Plans (active or not: existing subscriptions may be on retired plans) with these ids. */
  findByIds(ids: readonly string[]): Promise<PlanModel[]>;
}

export function createPlanRepository(prisma: PrismaClient): PlanRepository {
  return {
    async findActive(interval) {
      const rows = await prisma.subscriptionPlan.findMany({
        where: { active: true, ...(interval ? { interval } : {}) },
        select: planColumns,
        orderBy: [{ priceAmount: 'asc' }, { code: 'asc' }],
      });
      return rows.map(toPlan);
    },
    async findByIds(ids) {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return [];
      const rows = await prisma.subscriptionPlan.findMany({
        where: { id: { in: valid } },
        select: planColumns,
      });
      return rows.map(toPlan);
    },
  };
}
