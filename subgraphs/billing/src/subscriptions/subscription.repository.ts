import { createAuditWriter, type AuditEntry } from '@gatehouse/audit';
import type {
  InvoiceBillingReason,
  Prisma,
  PrismaClient,
  SubscriptionPlan,
  SubscriptionStatus,
} from '@gatehouse/db';
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

/** Statuses a paid renewal (or a paid retry of one) brings back to good standing. */
const LAPSED_STATUSES: SubscriptionStatus[] = ['PAST_DUE', 'SUSPENDED', 'UNPAID'];

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

/** A plan as stored (the lifecycle reads its price, interval, trial length and version). */
export type SubscriptionPlanRow = SubscriptionPlan;

export type SubscriptionAuditAction =
  | 'SUBSCRIPTION_CREATED'
  | 'SUBSCRIPTION_ACTIVATED'
  | 'SUBSCRIPTION_PAYMENT_FAILED'
  | 'SUBSCRIPTION_PLAN_CHANGED'
  | 'SUBSCRIPTION_CANCELED'
  | 'SUBSCRIPTION_RESUMED'
  | 'SUBSCRIPTION_RENEWED'
  | 'SUBSCRIPTION_PAST_DUE'
  | 'SUBSCRIPTION_SUSPENDED'
  | 'SUBSCRIPTION_ENDED';

export interface NewSubscriptionRow {
  id: string;
  userId: string;
  planId: string;
  status: SubscriptionStatus;
  priceAmount: number;
  currency: string;
  planVersion: number;
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
  billingCycleAnchor: Date;
  trialEndsAt: Date | null;
}

/** A subscription claimed for renewal, with what its next period is priced and counted from. */
export interface RenewalCandidate extends SubscriptionModel {
  billingCycleAnchor: Date;
  plan: SubscriptionPlanRow;
}

/** The invoice fields that decide how a payment outcome moves a subscription. */
export interface SubscriptionInvoiceRef {
  subscriptionId: string | null;
  billingReason: InvoiceBillingReason;
}

/** A paid renewal invoice: the period it covers and the price of its subscription line. */
export interface RenewalInvoice {
  subscriptionId: string | null;
  periodStart: Date | null;
  periodEnd: Date | null;
  lines: { kind: string; unitAmount: number; planId: string | null }[];
}

/** A plan change's invoice: its proration lines. */
export interface PlanChangeInvoice {
  subscriptionId: string | null;
  lines: { kind: string; amount: number; planId: string | null }[];
}

/** The subscription lifecycle's writes (and the reads that decide them), inside one transaction. */
export interface SubscriptionWriteUnit {
  /** Serialises billing changes of one user (subscribe, change, cancel) across replicas, until the transaction ends. */
  lockUser(userId: string): Promise<void>;
  /** The user's current subscription (not ended), the newest when there are several. */
  findCurrent(userId: string): Promise<SubscriptionModel | null>;
  findById(subscriptionId: string): Promise<SubscriptionModel | null>;
  /** With its plan's name (for the suspension mail). */
  findWithPlanName(
    subscriptionId: string,
  ): Promise<{ subscription: SubscriptionModel; planName: string } | null>;
  findPlanOrThrow(planId: string): Promise<SubscriptionPlanRow>;
  planVersion(planId: string): Promise<number | null>;
  /**
   * Records a user's trial of a plan family; false when one was already taken. The primary key (user, family)
   * decides, so two concurrent subscribes (even on two replicas) cannot both start a trial.
   */
  takeTrial(trial: {
    userId: string;
    planFamily: string;
    subscriptionId: string;
    at: Date;
  }): Promise<boolean>;
  insert(row: NewSubscriptionRow): Promise<SubscriptionModel>;
  /** INCOMPLETE → CANCELED (ended and canceled at `at`): a subscription whose first payment failed; false otherwise. */
  endIncomplete(subscriptionId: string, at: Date): Promise<boolean>;
  /** Moves the subscription to `plan` at its current price and version. */
  switchPlan(subscriptionId: string, plan: SubscriptionPlanRow): Promise<void>;
  /** Adds to the customer's credit balance; false when the user is no billing customer. */
  addCredit(userId: string, amount: number, currency: string): Promise<boolean>;
  markCancelAtPeriodEnd(subscriptionId: string, at: Date): Promise<SubscriptionModel>;
  clearCancelAtPeriodEnd(subscriptionId: string): Promise<SubscriptionModel>;
  setStatus(subscriptionId: string, status: SubscriptionStatus): Promise<SubscriptionModel>;
  /**
   * Moves a not-ended subscription whose period ends at `from` to the next period; false when it is not there
   * (already moved).
   */
  advancePeriod(
    subscriptionId: string,
    from: Date,
    next: { periodStart: Date; periodEnd: Date; priceAmount?: number; planVersion?: number },
  ): Promise<boolean>;
  /** PAST_DUE / SUSPENDED / UNPAID → ACTIVE (not ended). */
  reactivateLapsed(subscriptionId: string): Promise<void>;
  /** INCOMPLETE / PAST_DUE / SUSPENDED → ACTIVE; false when it was in none of them. */
  activateFirstPaid(subscriptionId: string): Promise<boolean>;
  /** Sets `status` on a not-ended subscription not in it yet; false when nothing changed. */
  markDelinquent(subscriptionId: string, status: SubscriptionStatus): Promise<boolean>;
  /** Ends a subscription (CANCELED at `at`); false when it had ended already. */
  end(subscriptionId: string, at: Date): Promise<boolean>;
  /**
   * Claims a subscription due for renewal by `until` (FOR UPDATE SKIP LOCKED: concurrent renewal runs take
   * different rows); null when it is not due or another run holds it.
   */
  claimForRenewal(subscriptionId: string, until: Date): Promise<RenewalCandidate | null>;
  /** The renewal invoice of the period starting at `periodStart`, in one of `statuses`. */
  findRenewalInvoice(
    subscriptionId: string,
    periodStart: Date,
    statuses: ('OPEN' | 'PAID')[],
  ): Promise<{ id: string; periodEnd: Date | null } | null>;
  findInvoiceRef(invoiceId: string): Promise<SubscriptionInvoiceRef | null>;
  findRenewalInvoiceById(invoiceId: string): Promise<RenewalInvoice | null>;
  findPlanChangeInvoice(invoiceId: string): Promise<PlanChangeInvoice | null>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: AuditEntry<SubscriptionAuditAction>): Promise<void>;
}

export interface SubscriptionRepository {
  /**
   * The current (not ended, not canceled) subscription of each of these users: at most one per user, the
   * most recently created when there are several. Malformed ids are skipped.
   */
  findCurrentForUsers(userIds: readonly string[]): Promise<SubscriptionModel[]>;
  /** The user's current subscription (not ended), the newest when there are several. */
  findCurrent(userId: string): Promise<SubscriptionModel | null>;
  /** Null for a malformed id. */
  findPlan(planId: string): Promise<SubscriptionPlanRow | null>;
  isTrialTaken(userId: string, planFamily: string): Promise<boolean>;
  /** INCOMPLETE → ACTIVE (a first invoice covered by credit). */
  activateIncomplete(subscriptionId: string): Promise<void>;
  /** Canceled at period end, not ended, the period over at `at`: at most `take`. */
  listEnding(at: Date, take: number): Promise<SubscriptionModel[]>;
  /** ACTIVE/TRIALING, renewing, whose period ends by `until`: ids, the soonest first, at most `take`. */
  listDueIds(until: Date, take: number): Promise<string[]>;
}

type Db = Prisma.TransactionClient | PrismaClient;

const findCurrent = (db: Db, userId: string) =>
  db.subscription.findFirst({
    where: { userId, status: { in: CURRENT_STATUSES }, endedAt: null },
    orderBy: { createdAt: 'desc' },
    select: subscriptionColumns,
  });

/** The subscription writes of one transaction of the billing write unit (`billing.repository.ts`). */
export function createSubscriptionWriteUnit(tx: Prisma.TransactionClient): SubscriptionWriteUnit {
  const audit = createAuditWriter<SubscriptionAuditAction>(tx);
  return {
    async lockUser(userId) {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`billing:user:${userId}`}))`;
    },
    findCurrent: (userId) => findCurrent(tx, userId),
    findById: (subscriptionId) =>
      tx.subscription.findUnique({ where: { id: subscriptionId }, select: subscriptionColumns }),
    async findWithPlanName(subscriptionId) {
      const row = await tx.subscription.findUnique({
        where: { id: subscriptionId },
        select: { ...subscriptionColumns, plan: { select: { name: true } } },
      });
      if (!row) return null;
      const { plan, ...subscription } = row;
      return { subscription, planName: plan.name };
    },
    findPlanOrThrow: (planId) => tx.subscriptionPlan.findUniqueOrThrow({ where: { id: planId } }),
    async planVersion(planId) {
      const plan = await tx.subscriptionPlan.findUnique({ where: { id: planId }, select: { version: true } });
      return plan?.version ?? null;
    },
    async takeTrial(trial) {
      const inserted = await tx.$executeRaw`
        INSERT INTO "subscription_trials" (user_id, plan_family, subscription_id, started_at)
        VALUES (${trial.userId}::uuid, ${trial.planFamily}, ${trial.subscriptionId}::uuid, ${trial.at})
        ON CONFLICT DO NOTHING`;
      return inserted === 1;
    },
    insert: (row) => tx.subscription.create({ data: row, select: subscriptionColumns }),
    async endIncomplete(subscriptionId, at) {
      const ended = await tx.subscription.updateMany({
        where: { id: subscriptionId, status: 'INCOMPLETE' },
        data: { status: 'CANCELED', endedAt: at, canceledAt: at },
      });
      return ended.count > 0;
    },
    async switchPlan(subscriptionId, plan) {
      await tx.subscription.update({
        where: { id: subscriptionId },
        data: { planId: plan.id, priceAmount: plan.priceAmount, planVersion: plan.version },
      });
    },
    async addCredit(userId, amount, currency) {
      const updated = await tx.billingCustomer.updateMany({
        where: { userId },
        data: { creditBalance: { increment: amount }, currency },
      });
      return updated.count > 0;
    },
    markCancelAtPeriodEnd: (subscriptionId, at) =>
      tx.subscription.update({
        where: { id: subscriptionId },
        data: { cancelAtPeriodEnd: true, canceledAt: at },
        select: subscriptionColumns,
      }),
    clearCancelAtPeriodEnd: (subscriptionId) =>
      tx.subscription.update({
        where: { id: subscriptionId },
        data: { cancelAtPeriodEnd: false, canceledAt: null },
        select: subscriptionColumns,
      }),
    setStatus: (subscriptionId, status) =>
      tx.subscription.update({
        where: { id: subscriptionId },
        data: { status },
        select: subscriptionColumns,
      }),
    async advancePeriod(subscriptionId, from, next) {
      const moved = await tx.subscription.updateMany({
        where: { id: subscriptionId, currentPeriodEnd: from, endedAt: null },
        data: {
          currentPeriodStart: next.periodStart,
          currentPeriodEnd: next.periodEnd,
          status: 'ACTIVE',
          ...(next.priceAmount !== undefined ? { priceAmount: next.priceAmount } : {}),
          ...(next.planVersion !== undefined ? { planVersion: next.planVersion } : {}),
        },
      });
      return moved.count > 0;
    },
    async reactivateLapsed(subscriptionId) {
      await tx.subscription.updateMany({
        where: { id: subscriptionId, status: { in: LAPSED_STATUSES }, endedAt: null },
        data: { status: 'ACTIVE' },
      });
    },
    async activateFirstPaid(subscriptionId) {
      const activated = await tx.subscription.updateMany({
        where: { id: subscriptionId, status: { in: ['INCOMPLETE', 'PAST_DUE', 'SUSPENDED'] } },
        data: { status: 'ACTIVE' },
      });
      return activated.count > 0;
    },
    async markDelinquent(subscriptionId, status) {
      const changed = await tx.subscription.updateMany({
        where: { id: subscriptionId, endedAt: null, status: { not: status } },
        data: { status },
      });
      return changed.count > 0;
    },
    async end(subscriptionId, at) {
      const result = await tx.subscription.updateMany({
        where: { id: subscriptionId, endedAt: null },
        data: { status: 'CANCELED', endedAt: at },
      });
      return result.count > 0;
    },
    async claimForRenewal(subscriptionId, until) {
      const claimed = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM subscriptions
        WHERE id = ${subscriptionId}::uuid AND status IN ('ACTIVE', 'TRIALING') AND ended_at IS NULL
          AND cancel_at_period_end = false AND current_period_end <= ${until}
        FOR UPDATE SKIP LOCKED`;
      if (claimed.length === 0) return null;
      return tx.subscription.findUniqueOrThrow({
        where: { id: subscriptionId },
        select: { ...subscriptionColumns, billingCycleAnchor: true, plan: true },
      });
    },
    findRenewalInvoice: (subscriptionId, periodStart, statuses) =>
      tx.invoice.findFirst({
        where: { subscriptionId, billingReason: 'SUBSCRIPTION_CYCLE', periodStart, status: { in: statuses } },
        select: { id: true, periodEnd: true },
      }),
    findInvoiceRef: (invoiceId) =>
      tx.invoice.findUnique({
        where: { id: invoiceId },
        select: { subscriptionId: true, billingReason: true },
      }),
    async findRenewalInvoiceById(invoiceId) {
      const invoice = await tx.invoice.findUnique({
        where: { id: invoiceId },
        select: {
          subscriptionId: true,
          periodStart: true,
          periodEnd: true,
          lineItems: { select: { kind: true, unitAmount: true, planId: true } },
        },
      });
      if (!invoice) return null;
      const { lineItems, ...rest } = invoice;
      return { ...rest, lines: lineItems };
    },
    async findPlanChangeInvoice(invoiceId) {
      const invoice = await tx.invoice.findUnique({
        where: { id: invoiceId },
        select: { subscriptionId: true, lineItems: { select: { planId: true, amount: true, kind: true } } },
      });
      return invoice ? { subscriptionId: invoice.subscriptionId, lines: invoice.lineItems } : null;
    },
    audit: (entry) => audit.record(entry),
  };
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
    findCurrent: (userId) => findCurrent(prisma, userId),
    findPlan: async (planId) =>
      isUuid(planId) ? prisma.subscriptionPlan.findUnique({ where: { id: planId } }) : null,
    async isTrialTaken(userId, planFamily) {
      const row = await prisma.subscriptionTrial.findUnique({
        where: { userId_planFamily: { userId, planFamily } },
        select: { userId: true },
      });
      return row !== null;
    },
    async activateIncomplete(subscriptionId) {
      await prisma.subscription.updateMany({
        where: { id: subscriptionId, status: 'INCOMPLETE' },
        data: { status: 'ACTIVE' },
      });
    },
    listEnding: (at, take) =>
      prisma.subscription.findMany({
        where: {
          cancelAtPeriodEnd: true,
          endedAt: null,
          currentPeriodEnd: { lte: at },
          status: { in: CURRENT_STATUSES },
        },
        select: subscriptionColumns,
        take,
      }),
    async listDueIds(until, take) {
      const due = await prisma.subscription.findMany({
        where: {
          status: { in: ['ACTIVE', 'TRIALING'] },
          endedAt: null,
          cancelAtPeriodEnd: false,
          currentPeriodEnd: { lte: until },
        },
        select: { id: true },
        orderBy: { currentPeriodEnd: 'asc' },
        take,
      });
      return due.map((row) => row.id);
    },
  };
}
