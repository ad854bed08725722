import type { AuditMetadataValue } from '@gatehouse/audit';
import { NotFoundError, ValidationError } from '@gatehouse/errors';
import { isUuid } from '@gatehouse/service';
import { z } from 'zod';
import { BillingErrorCode } from '../error-codes';
import type { PlanModel } from '../models';
import type { BillingActor } from '../subscriptions';
import type { PlanAdminRepository } from './plan.repository';

export type { PlanAuditAction } from './plan.repository';

const MAX_PRICE = 100_000_000; // 1,000,000.00 in a two-decimal currency: a typo guard, not a business rule.

const limitsSchema = z
  .array(
    z.strictObject({
      key: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, { error: 'Lower-case letters, digits and _.' }),
      value: z.number().int().min(0).max(2_000_000_000).nullable().optional(),
    }),
  )
  .max(50)
  .refine((limits) => new Set(limits.map((limit) => limit.key)).size === limits.length, {
    error: 'Each limit key once.',
  });

/**
 * Plan copy is plain text shown on pricing pages, invoices and mail: markup and control characters are refused
 * (not escaped), so nothing stored can turn into a script wherever it is rendered.
 */
const plainText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((text) => !/[<>]/.test(text), { error: 'HTML is not allowed; use plain text.' })
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    .refine((text) => !/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/.test(text), {
      error: 'Control characters are not allowed.',
    });

const featuresSchema = z.array(plainText(200).pipe(z.string().min(1))).max(50);

const createSchema = z.strictObject({
  code: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, { error: 'Lower-case letters, digits and -.' }),
  name: plainText(100).pipe(z.string().min(1)),
  description: plainText(2000).nullish(),
  priceAmount: z.number().int().min(0).max(MAX_PRICE),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, { error: 'An ISO 4217 code.' })
    .transform((code) => code.toUpperCase()),
  interval: z.enum(['MONTH', 'YEAR']),
  intervalCount: z.number().int().min(1).max(12).nullish(),
  trialDays: z.number().int().min(0).max(365).nullish(),
  features: featuresSchema.nullish(),
  limits: limitsSchema.nullish(),
});

const updateSchema = z.strictObject({
  name: plainText(100).pipe(z.string().min(1)).nullish(),
  description: plainText(2000).nullish(),
  priceAmount: z.number().int().min(0).max(MAX_PRICE).nullish(),
  trialDays: z.number().int().min(0).max(365).nullish(),
  features: featuresSchema.nullish(),
  limits: limitsSchema.nullish(),
});

export type CreatePlanInput = z.input<typeof createSchema>;
export type UpdatePlanInput = z.input<typeof updateSchema>;

const limitsJson = (limits: z.output<typeof limitsSchema>): Record<string, number | null> =>
  Object.fromEntries(limits.map((limit) => [limit.key, limit.value ?? null]));

/** The editable terms of a plan, as recorded in the audit trail for each version. */
function terms(plan: PlanModel): AuditMetadataValue {
  return {
    name: plan.name,
    description: plan.description,
    priceAmount: plan.priceAmount,
    trialDays: plan.trialDays,
    features: plan.features,
    limits: Object.fromEntries(plan.limits.map((limit) => [limit.key, limit.value])),
  };
}

export interface PlanAdmin {
  create(actor: BillingActor, input: CreatePlanInput): Promise<PlanModel>;
  /** A new version of the plan's terms. Subscribers keep their locked price until their next renewal. */
  update(actor: BillingActor, id: string, input: UpdatePlanInput): Promise<PlanModel>;
  /** No new subscriptions; existing ones continue (and renew) on it. */
  archive(actor: BillingActor, id: string): Promise<PlanModel>;
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(parsed.error);
  return parsed.data;
}

/** Set in the input (GraphQL sends `null` for an explicitly empty optional field). */
const present = <T>(value: T | null | undefined): value is T => value !== null && value !== undefined;

const notFound = () =>
  new NotFoundError('Plan not found', { details: { reason: BillingErrorCode.PLAN_NOT_FOUND } });

export function createPlanAdmin(plans: PlanAdminRepository): PlanAdmin {
  const auditFields = (actor: BillingActor) => ({
    actorUserId: actor.actorUserId,
    impersonatorUserId: actor.impersonatorUserId ?? null,
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
    requestId: actor.requestId ?? null,
  });

  return {
    async create(actor, input) {
      const data = parse(createSchema, input);
      return plans.transaction(async (unit) => {
        const plan = await unit.insert({
          code: data.code,
          name: data.name,
          description: data.description ?? null,
          priceAmount: data.priceAmount,
          currency: data.currency,
          interval: data.interval,
          intervalCount: data.intervalCount ?? 1,
          trialDays: data.trialDays ?? 0,
          features: data.features ?? [],
          limits: limitsJson(data.limits ?? []),
        });
        await unit.audit({
          ...auditFields(actor),
          action: 'PLAN_CREATED',
          outcome: 'SUCCESS',
          targetType: 'SubscriptionPlan',
          targetId: plan.id,
          metadata: { code: plan.code, priceAmount: plan.priceAmount, currency: plan.currency, version: 1 },
        });
        return plan;
      });
    },

    async update(actor, id, input) {
      const data = parse(updateSchema, input);
      if (!isUuid(id)) throw notFound();
      return plans.transaction(async (unit) => {
        const before = await unit.findById(id);
        if (!before) throw notFound();
        const plan = await unit.updateTerms(id, {
          ...(present(data.name) ? { name: data.name } : {}),
          ...(data.description !== undefined ? { description: data.description } : {}),
          ...(present(data.priceAmount) ? { priceAmount: data.priceAmount } : {}),
          ...(present(data.trialDays) ? { trialDays: data.trialDays } : {}),
          ...(present(data.features) ? { features: data.features } : {}),
          ...(present(data.limits) ? { limits: limitsJson(data.limits) } : {}),
        });
        // The audit row is the version history: what each version changed from and to.
        await unit.audit({
          ...auditFields(actor),
          action: 'PLAN_UPDATED',
          outcome: 'SUCCESS',
          targetType: 'SubscriptionPlan',
          targetId: id,
          metadata: { version: plan.version, before: terms(before), after: terms(plan) },
        });
        return plan;
      });
    },

    async archive(actor, id) {
      if (!isUuid(id)) throw notFound();
      return plans.transaction(async (unit) => {
        const active = await unit.activeOf(id);
        if (active === null) throw notFound();
        const plan = await unit.archive(id, active ? new Date() : null);
        if (active) {
          await unit.audit({
            ...auditFields(actor),
            action: 'PLAN_ARCHIVED',
            outcome: 'SUCCESS',
            targetType: 'SubscriptionPlan',
            targetId: id,
          });
        }
        return plan;
      });
    },
  };
}
