import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import { Prisma, type PlanInterval, type PrismaClient } from '@gatehouse/db';
import { ConflictError } from '@gatehouse/errors';
import { isUuid } from '@gatehouse/service';
import { PlanErrorCode } from './error-codes';
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

export type PlanAuditAction = 'PLAN_CREATED' | 'PLAN_UPDATED' | 'PLAN_ARCHIVED';

/** The columns of a new plan (every one given: defaults are the service's rules). */
export interface NewPlanRow {
  code: string;
  name: string;
  description: string | null;
  priceAmount: number;
  currency: string;
  interval: PlanInterval;
  intervalCount: number;
  trialDays: number;
  features: string[];
  /** `{ key: limit | null }` (null = unlimited). */
  limits: Record<string, number | null>;
}

/** The editable terms of a plan; absent fields stay as they are. Every change is a new version. */
export interface PlanTermsChange {
  name?: string;
  description?: string | null;
  priceAmount?: number;
  trialDays?: number;
  features?: string[];
  limits?: Record<string, number | null>;
}

/** The writes of plan administration, inside one transaction. */
export interface PlanWriteUnit {
  /** @throws ConflictError PLAN_CODE_TAKEN when a plan with this code exists. */
  insert(row: NewPlanRow): Promise<PlanModel>;
  findById(id: string): Promise<PlanModel | null>;
  /** Applies the change and increments the version. */
  updateTerms(id: string, change: PlanTermsChange): Promise<PlanModel>;
  /** The plan's `active` flag; null when there is no such plan. */
  activeOf(id: string): Promise<boolean | null>;
  /**
   * Retires the plan (inactive, archived `at`); `at: null` for a plan already retired, which is returned as
   * stored (the same empty update as ever).
   */
  archive(id: string, at: Date | null): Promise<PlanModel>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: AuditEntry<PlanAuditAction>): Promise<void>;
}

export interface PlanAdminRepository {
  /** Runs `work` in one transaction: every write and its audit entry commit together or not at all. */
  transaction<T>(work: (unit: PlanWriteUnit) => Promise<T>): Promise<T>;
}

function createPlanWriteUnit(tx: Prisma.TransactionClient): PlanWriteUnit {
  const audit = createAuditWriter<PlanAuditAction>(tx);
  return {
    async insert(row) {
      try {
        return toPlan(await tx.subscriptionPlan.create({ data: row, select: planColumns }));
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          throw new ConflictError('A plan with this code exists', {
            details: { reason: PlanErrorCode.PLAN_CODE_TAKEN },
          });
        }
        throw err;
      }
    },
    async findById(id) {
      const row = await tx.subscriptionPlan.findUnique({ where: { id }, select: planColumns });
      return row ? toPlan(row) : null;
    },
    async updateTerms(id, change) {
      const row = await tx.subscriptionPlan.update({
        where: { id },
        data: { ...change, version: { increment: 1 } },
        select: planColumns,
      });
      return toPlan(row);
    },
    async activeOf(id) {
      const row = await tx.subscriptionPlan.findUnique({ where: { id }, select: { active: true } });
      return row ? row.active : null;
    },
    async archive(id, at) {
      const row = await tx.subscriptionPlan.update({
        where: { id },
        data: at ? { active: false, archivedAt: at } : {},
        select: planColumns,
      });
      return toPlan(row);
    },
    audit: (entry) => audit.record(entry),
  };
}

export function createPlanAdminRepository(prisma: PrismaClient): PlanAdminRepository {
  return {
    transaction: (work) => prisma.$transaction((tx) => work(createPlanWriteUnit(tx))),
  };
}
