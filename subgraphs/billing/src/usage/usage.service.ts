import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { SubscriptionStatus } from '@gatehouse/db';
import { NotFoundError, ServiceUnavailableError, ValidationError } from '@gatehouse/errors';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import { isUuid } from '@gatehouse/service';
import {
  IdempotencyKeyReusedError,
  NoSubscriptionError,
  QuotaExceededError,
  UnknownMetricError,
} from './usage.errors';
import { isDuplicateUsageRecord, type UsageRepository } from './usage.repository';

/** Largest quantity one report may carry. */
export const MAX_USAGE_QUANTITY = 1_000_000;

/** Subscriptions usage is counted against. SUSPENDED ones are held to the {@link UsageServiceOptions.suspendedPlanCode} plan's limits. */
export const METERED_STATUSES: readonly SubscriptionStatus[] = [
  'TRIALING',
  'ACTIVE',
  'PAST_DUE',
  'SUSPENDED',
];

const DAY_MS = 24 * 60 * 60 * 1000;

/** Counter key of one metric in one period of one subscription (inside the KV store's own namespace). */
export function usageCounterKey(subscriptionId: string, metric: string, periodStart: Date): string {
  return `usage:v1:${subscriptionId}:${metric}:${Math.floor(periodStart.getTime() / 1000)}`;
}

export interface RecordUsageInput {
  userId: string;
  /** Metric key of the plan's `limits`, e.g. `api_calls`: lower-case letters, digits and `_`. */
  metric: string;
  /** Integer 1..{@link MAX_USAGE_QUANTITY}. */
  quantity: number;
  /**
   * Makes the report retry-safe: a report with a key the same user already used is not counted again (it returns
   * the current usage, `replayed: true`). Printable ASCII, 1..200 characters.
   */
  idempotencyKey?: string;
}

/** Outcome of a usage report. */
export interface UsageReport {
  metric: string;
  /** Usage counted in the current period, this report included. */
  used: number;
  /** The plan's limit; null = unlimited. */
  limit: number | null;
  /** `limit - used`; null when unlimited. */
  remaining: number | null;
  /** End of the period: the counter starts from zero after it. */
  resetsAt: Date;
  /** True when the idempotency key had been used before and nothing was counted this time. */
  replayed: boolean;
}

/** Usage of one plan limit (for `mySubscription.usage`). */
export interface UsageLimitStatus {
  /** Metric key, e.g. `api_calls`. */
  key: string;
  used: number;
  /** Null = unlimited. */
  limit: number | null;
  /** `used / limit` in percent with one decimal (may exceed 100 after a downgrade); null when unlimited. */
  percent: number | null;
  resetsAt: Date;
}

export interface UsageService {
  /**
   * Counts `quantity` of `metric` against the user's current subscription, or refuses it:
   * QuotaExceededError (QUOTA_EXCEEDED) over the limit, NoSubscriptionError (FORBIDDEN), UnknownMetricError
   * (BAD_USER_INPUT), IdempotencyKeyReusedError (CONFLICT), ValidationError (BAD_USER_INPUT),
   * ServiceUnavailableError when the counter store cannot be reached (fails closed: nothing is counted).
   */
  recordUsage(input: RecordUsageInput): Promise<UsageReport>;
  /** Usage of every limit of the subscription's plan in its current period, by metric key. NotFoundError if unknown. */
  usageFor(subscriptionId: string): Promise<UsageLimitStatus[]>;
}

export interface UsageServiceOptions {
  usageRecords: UsageRepository;
  /** Holds the counters: Redis in production (shared by every replica), in-process in the embedded deployment. */
  kv: KeyValueStore;
  logger: Logger;
  now?: () => Date;
  /** Plan whose limits apply while a subscription is SUSPENDED. Default `free`. */
  suspendedPlanCode?: string;
}

const METRIC_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

const recordUsageSchema = z
  .object({
    userId: z.string().refine(isUuid, 'Must be a user id'),
    metric: z.string().regex(METRIC_PATTERN, 'Lower-case letters, digits and _ (at most 63 characters)'),
    quantity: z
      .number()
      .int('Must be an integer')
      .min(1, 'Must be at least 1')
      .max(MAX_USAGE_QUANTITY, `Must be at most ${MAX_USAGE_QUANTITY}`),
    idempotencyKey: z
      .string()
      .regex(/^[\x21-\x7e]{1,200}$/, 'Printable ASCII without spaces, 1 to 200 characters')
      .optional(),
  })
  .strict();

/** `limits` of a plan: metric -> maximum per period, null = unlimited. */
const planLimitsSchema = z.record(z.string(), z.number().int().nonnegative().nullable());
type PlanLimits = z.infer<typeof planLimitsSchema>;

/** What a usage report is counted against. */
interface MeteringContext {
  subscriptionId: string;
  periodStart: Date;
  periodEnd: Date;
  limits: PlanLimits;
  /** Set when the plan for suspended subscriptions is missing: every metric's limit is 0. */
  denyAll: boolean;
}

/**
 * Metered usage against plan limits.
 *
 * The gate is a KV counter per (subscription, metric, period start): INCRBY is atomic, so concurrent reports can
 * never together pass the limit; a report that would is decremented back and refused. Every counted report is
 * also a `usage_records` row (the durable truth): when the counter is missing (Redis restarted or flushed) it is
 * rebuilt from SUM(usage_records) with SET NX, so concurrent rebuilds agree, before incrementing.
 *
 * Policy (see docs/billing.md):
 * - A metric the plan has limits for: refused once the period's total would exceed the limit (null = unlimited).
 * - A metric missing from a plan that limits other metrics: refused (UNKNOWN_METRIC), so a typo in a metric name
 *   never becomes free, unlimited usage. A plan without any limits (`{}`) meters every metric, unlimited.
 * - SUSPENDED subscriptions get the `free` plan's limits, counted in the same period; when that plan is missing
 *   every metric's limit is 0 (fail closed).
 * - Usage is counted in the subscription's current period [currentPeriodStart, currentPeriodEnd); a new period
 *   start means a new counter, i.e. usage resets each period.
 * - A refused report holds its quantity in the counter for the instant between increment and decrement, so a
 *   concurrent smaller report may be refused although it would have fitted: refusal errs on the safe side.
 * - Replays (same user, same idempotency key, any time later) are not counted again and return the metric's
 *   current usage; a replay with another metric or quantity is refused (IDEMPOTENCY_KEY_REUSED).
 */
export function createUsageService(options: UsageServiceOptions): UsageService {
  const { usageRecords, kv, logger } = options;
  const now = options.now ?? (() => new Date());
  const suspendedPlanCode = options.suspendedPlanCode ?? 'free';

  /** KV failures become SERVICE_UNAVAILABLE: usage is never counted without the gate. */
  async function gate<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      logger.error({ err: error }, 'usage: counter store failed');
      throw new ServiceUnavailableError('Usage metering is temporarily unavailable', { cause: error });
    }
  }

  function parseLimits(value: unknown, planRef: string): PlanLimits {
    const parsed = planLimitsSchema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    // A data problem of ours: refuse loudly rather than guess a limit.
    logger.error({ plan: planRef, issues: parsed.error.issues }, 'usage: plan limits are malformed');
    throw new Error(`usage: plan ${planRef} has malformed limits`);
  }

  async function limitsOf(
    status: SubscriptionStatus,
    plan: { code: string; limits: unknown },
  ): Promise<Pick<MeteringContext, 'limits' | 'denyAll'>> {
    if (status !== 'SUSPENDED') return { limits: parseLimits(plan.limits, plan.code), denyAll: false };
    const fallback = await usageRecords.findPlanLimitsByCode(suspendedPlanCode);
    if (fallback) return { limits: parseLimits(fallback.limits, suspendedPlanCode), denyAll: false };
    logger.error(
      { plan: suspendedPlanCode },
      'usage: the plan for suspended subscriptions is missing; limits are 0',
    );
    return { limits: {}, denyAll: true };
  }

  /** The user's metered subscription, or NoSubscriptionError. The newest wins should there be several. */
  async function contextForUser(userId: string): Promise<MeteringContext> {
    const subscription = await usageRecords.findNewestSubscriptionOfUser(userId, METERED_STATUSES);
    if (!subscription) throw new NoSubscriptionError();
    return {
      subscriptionId: subscription.id,
      periodStart: subscription.currentPeriodStart,
      periodEnd: subscription.currentPeriodEnd,
      ...(await limitsOf(subscription.status, subscription.plan)),
    };
  }

  function limitFor(
    { limits, denyAll }: Pick<MeteringContext, 'limits' | 'denyAll'>,
    metric: string,
  ): number | null {
    if (denyAll) return 0;
    if (Object.hasOwn(limits, metric)) return limits[metric] ?? null;
    if (Object.keys(limits).length > 0) throw new UnknownMetricError(metric);
    return null;
  }

  const storedSum = (subscriptionId: string, metric: string, periodStart: Date): Promise<number> =>
    usageRecords.sumQuantity(subscriptionId, metric, periodStart);

  /** Keeps the counter past the period end (a late replay still finds it), then lets Redis drop it. */
  function counterTtlSeconds(periodEnd: Date): number {
    return Math.max(3600, Math.ceil((periodEnd.getTime() + DAY_MS - now().getTime()) / 1000));
  }

  /** Makes sure the counter exists, rebuilding it from the stored records when it does not. */
  async function ensureCounter(
    key: string,
    subscriptionId: string,
    metric: string,
    period: { start: Date; end: Date },
  ) {
    if ((await gate(() => kv.get(key))) !== null) return;
    const sum = await storedSum(subscriptionId, metric, period.start);
    // NX: when several requests rebuild at once, the first write wins and all of them read the same sum anyway.
    await gate(() =>
      kv.set(key, String(sum), { onlyIfAbsent: true, ttlSeconds: counterTtlSeconds(period.end) }),
    );
  }

  /** Current usage of a counter; falls back to the stored records when the counter store is down (reads only). */
  async function readUsed(subscriptionId: string, metric: string, period: { start: Date; end: Date }) {
    const key = usageCounterKey(subscriptionId, metric, period.start);
    try {
      await ensureCounter(key, subscriptionId, metric, period);
      const value = await gate(() => kv.get(key));
      if (value !== null) return Number(value);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableError)) throw error;
    }
    return storedSum(subscriptionId, metric, period.start);
  }

  async function undo(key: string, quantity: number): Promise<void> {
    try {
      await kv.increment(key, { by: -quantity });
    } catch (error) {
      // The counter now over-counts (never under-counts) until it is rebuilt: safe, but worth knowing.
      logger.error({ err: error, key }, 'usage: could not give back a refused or failed quantity');
    }
  }

  async function replay(
    storedKey: string,
    input: { metric: string; quantity: number },
    context: MeteringContext,
  ): Promise<UsageReport | null> {
    const earlier = await usageRecords.findRecordByIdempotencyKey(storedKey);
    if (!earlier) return null;
    // The subscription or period may have changed since: what the caller learns is the usage now.
    if (earlier.metric !== input.metric || earlier.quantity !== BigInt(input.quantity)) {
      throw new IdempotencyKeyReusedError();
    }
    const used = await readUsed(context.subscriptionId, input.metric, {
      start: context.periodStart,
      end: context.periodEnd,
    });
    const limit = limitFor(context, input.metric);
    return {
      metric: input.metric,
      used,
      limit,
      remaining: remainingOf(limit, used),
      resetsAt: context.periodEnd,
      replayed: true,
    };
  }

  return {
    async recordUsage(input) {
      const parsed = recordUsageSchema.safeParse(input);
      if (!parsed.success) throw ValidationError.fromZod(parsed.error);
      const { userId, metric, quantity, idempotencyKey } = parsed.data;

      const context = await contextForUser(userId);
      const limit = limitFor(context, metric);
      // Scoped to the user: one customer's keys can never collide with (or reveal) another's.
      const storedKey =
        idempotencyKey === undefined ? `auto:${randomUUID()}` : `u:${userId}:${idempotencyKey}`;
      if (idempotencyKey !== undefined) {
        const earlier = await replay(storedKey, { metric, quantity }, context);
        if (earlier) return earlier;
      }

      const period = { start: context.periodStart, end: context.periodEnd };
      const key = usageCounterKey(context.subscriptionId, metric, context.periodStart);
      await ensureCounter(key, context.subscriptionId, metric, period);
      const used = await gate(() =>
        kv.increment(key, { by: quantity, ttlSeconds: counterTtlSeconds(context.periodEnd) }),
      );

      if (limit !== null && used > limit) {
        await undo(key, quantity);
        const at = now();
        throw new QuotaExceededError({
          metric,
          limit,
          used: used - quantity,
          retryAfterSeconds: Math.max(1, Math.ceil((context.periodEnd.getTime() - at.getTime()) / 1000)),
          resetsAt: context.periodEnd.toISOString(),
        });
      }

      try {
        await usageRecords.insertRecord({
          subscriptionId: context.subscriptionId,
          metric,
          quantity: BigInt(quantity),
          periodStart: context.periodStart,
          recordedAt: now(),
          idempotencyKey: storedKey,
        });
      } catch (error) {
        await undo(key, quantity);
        // The same key reported concurrently: the other request counted it.
        if (isDuplicateUsageRecord(error) && idempotencyKey !== undefined) {
          const earlier = await replay(storedKey, { metric, quantity }, context);
          if (earlier) return earlier;
        }
        throw error;
      }

      return {
        metric,
        used,
        limit,
        remaining: remainingOf(limit, used),
        resetsAt: context.periodEnd,
        replayed: false,
      };
    },

    async usageFor(subscriptionId) {
      if (!isUuid(subscriptionId)) throw new NotFoundError('Subscription not found');
      const subscription = await usageRecords.findSubscription(subscriptionId);
      if (!subscription) throw new NotFoundError('Subscription not found');
      const { limits } = await limitsOf(subscription.status, subscription.plan);
      const period = { start: subscription.currentPeriodStart, end: subscription.currentPeriodEnd };
      const metrics = Object.keys(limits).sort();
      return Promise.all(
        metrics.map(async (metric) => {
          const used = await readUsed(subscriptionId, metric, period);
          const limit = limits[metric] ?? null;
          return { key: metric, used, limit, percent: percentOf(used, limit), resetsAt: period.end };
        }),
      );
    },
  };
}

function remainingOf(limit: number | null, used: number): number | null {
  return limit === null ? null : Math.max(0, limit - used);
}

function percentOf(used: number, limit: number | null): number | null {
  if (limit === null) return null;
  if (limit === 0) return used > 0 ? 100 : 0;
  return Math.round((used * 1000) / limit) / 10;
}
