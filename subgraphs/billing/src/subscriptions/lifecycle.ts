import { randomUUID } from 'node:crypto';
import { createAuditWriter, type AuditMetadataValue } from '@gatehouse/audit';
import {
  type Prisma,
  type PlanInterval,
  type PrismaClient,
  type SubscriptionPlan,
  type SubscriptionStatus,
} from '@gatehouse/db';
import { AppError, ConflictError, ErrorCode, NotFoundError, ValidationError } from '@gatehouse/errors';
import type { Logger } from '@gatehouse/logger';
import { isUuid } from '@gatehouse/service';
import { BillingErrorCode } from '../error-codes';
import type { SubscriptionModel } from '../models';
import { CURRENT_STATUSES, subscriptionColumns } from './subscription.repository';
import type {
  LifecycleCharging,
  LifecycleInvoice,
  LifecycleInvoiceLine,
  LifecycleInvoices,
  LifecyclePaymentMethods,
  SubscriptionEvent,
  SubscriptionNotice,
} from './ports';

/** Who asked, for the audit trail. */
export interface BillingActor {
  actorUserId: string;
  impersonatorUserId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

/** What the payment module tells the lifecycle, inside the transaction that records a payment's outcome. */
export interface LifecyclePaymentEvent {
  invoiceId: string;
  userId: string;
}

export interface SubscriptionLifecycleOptions {
  prisma: PrismaClient;
  invoices: LifecycleInvoices;
  charging: LifecycleCharging;
  paymentMethods: LifecyclePaymentMethods;
  /** Proration to the second (money/): credit for the unused part of the old price, charge for the new. */
  prorate(input: { oldPrice: number; newPrice: number; periodStart: Date; periodEnd: Date; at: Date }): {
    credit: number;
    charge: number;
  };
  /**
   * The end of a period that starts at `start`, counted from `anchor` (month-end clamping: a Jan 31 anchor renews
   * on Feb 28/29, then Mar 31), money/.
   */
  addPeriod(start: Date, interval: PlanInterval, count: number, anchor: Date): Date;
  /** Tax rate applied to new invoices, in basis points. Default 0. */
  taxRateBps?: number;
  publish(event: SubscriptionEvent): Promise<void>;
  notify(notice: SubscriptionNotice): Promise<void>;
  logger: Logger;
  now?: () => Date;
}

/** Renewal invoices are created this long before the period ends. */
export const RENEWAL_LEAD_MS = 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const RENEWAL_BATCH = 100;

type Tx = Prisma.TransactionClient;

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

export interface PlanChangeResult {
  subscription: SubscriptionModel;
  invoiceId: string | null;
  creditAmount: number;
}

export interface SubscriptionLifecycle {
  current(userId: string): Promise<SubscriptionModel | null>;
  subscribe(actor: BillingActor, planId: string, paymentMethodId?: string | null): Promise<SubscriptionModel>;
  changePlan(actor: BillingActor, planId: string): Promise<PlanChangeResult>;
  cancel(actor: BillingActor): Promise<SubscriptionModel>;
  resume(actor: BillingActor): Promise<SubscriptionModel>;
  /**
   * The renewal job: invoices and charges every subscription whose period ends within 24 h, and ends those
   * canceled at period end. Safe to run twice or concurrently: rows are claimed with SKIP LOCKED, renewal invoices
   * are keyed by (subscription, period start), and charging is idempotent per invoice.
   */
  renewDue(): Promise<{ renewed: number; ended: number; failed: number }>;
  /**
   * Payment outcomes, called by the payment module inside its transaction. What must wait for the commit (events,
   * mail) comes back as a function the payment module runs after it.
   */
  onPaymentSucceeded(event: LifecyclePaymentEvent, tx: Tx): Promise<AfterCommit | void>;
  onPaymentFailed(
    event: LifecyclePaymentEvent & { final: boolean; failureReason?: string },
    tx: Tx,
  ): Promise<AfterCommit | void>;
}

/** Work to do once the payment's transaction committed (it never runs for a rolled-back one). */
export type AfterCommit = () => Promise<void>;

function paymentFailed(reason: string | null | undefined): AppError {
  return new AppError(ErrorCode.PAYMENT_FAILED, 'The payment was declined; nothing was changed.', {
    details: { reason: BillingErrorCode.PAYMENT_FAILED, ...(reason ? { providerReason: reason } : {}) },
  });
}

/** Serialises billing changes of one user (subscribe, change, cancel) across replicas. */
async function lockUser(tx: Tx, userId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`billing:user:${userId}`}))`;
}

/**
 * The plan family a free trial counts against: the plan's `code`. Plans have no family of their own, and a plan keeps
 * its code across edits (price, trial length), so editing a plan never hands out a second trial.
 */
export function trialFamily(plan: { code: string }): string {
  return plan.code;
}

async function trialTaken(db: Pick<Tx, 'subscriptionTrial'>, userId: string, planFamily: string) {
  const row = await db.subscriptionTrial.findUnique({
    where: { userId_planFamily: { userId, planFamily } },
    select: { userId: true },
  });
  return row !== null;
}

/**
 * Records a user's trial of a plan family; false when one was already taken. The primary key (user, family)
 * decides, so two concurrent subscribes (even on two replicas) cannot both start a trial.
 */
async function takeTrial(
  tx: Tx,
  trial: { userId: string; planFamily: string; subscriptionId: string; at: Date },
): Promise<boolean> {
  const inserted = await tx.$executeRaw`
    INSERT INTO "subscription_trials" (user_id, plan_family, subscription_id, started_at)
    VALUES (${trial.userId}::uuid, ${trial.planFamily}, ${trial.subscriptionId}::uuid, ${trial.at})
    ON CONFLICT DO NOTHING`;
  return inserted === 1;
}

function auditFields(actor: BillingActor) {
  return {
    actorUserId: actor.actorUserId,
    impersonatorUserId: actor.impersonatorUserId ?? null,
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
    requestId: actor.requestId ?? null,
  };
}

function describePeriod(start: Date, end: Date): string {
  const day = (date: Date) => date.toISOString().slice(0, 10);
  return `${day(start)} to ${day(end)}`;
}

export function createSubscriptionLifecycle(options: SubscriptionLifecycleOptions): SubscriptionLifecycle {
  const { prisma, invoices, charging, paymentMethods, logger } = options;
  const now = options.now ?? (() => new Date());
  const taxRateBps = options.taxRateBps ?? 0;

  const findCurrent = (db: Tx | PrismaClient, userId: string) =>
    db.subscription.findFirst({
      where: { userId, status: { in: CURRENT_STATUSES }, endedAt: null },
      orderBy: { createdAt: 'desc' },
      select: subscriptionColumns,
    });

  async function requireCurrent(db: Tx | PrismaClient, userId: string): Promise<SubscriptionModel> {
    const subscription = await findCurrent(db, userId);
    if (!subscription) {
      throw new NotFoundError('You have no subscription', {
        details: { reason: BillingErrorCode.NO_SUBSCRIPTION },
      });
    }
    return subscription;
  }

  async function activePlan(planId: string): Promise<SubscriptionPlan> {
    const plan = isUuid(planId) ? await prisma.subscriptionPlan.findUnique({ where: { id: planId } }) : null;
    if (!plan || !plan.active) {
      throw new NotFoundError('Plan not found', { details: { reason: BillingErrorCode.PLAN_NOT_FOUND } });
    }
    return plan;
  }

  async function publishSafely(event: SubscriptionEvent): Promise<void> {
    try {
      await options.publish(event);
    } catch (err) {
      logger.warn({ err, type: event.type }, 'subscription event not published');
    }
  }

  async function notifySafely(notice: SubscriptionNotice): Promise<void> {
    try {
      await options.notify(notice);
    } catch (err) {
      logger.warn({ err, template: notice.template }, 'subscription notice not sent');
    }
  }

  const eventOf = (type: SubscriptionEvent['type'], subscription: SubscriptionModel): SubscriptionEvent => ({
    type,
    userId: subscription.userId,
    subscriptionId: subscription.id,
    status: subscription.status,
    planId: subscription.planId,
    at: now(),
  });

  /** Voids an invoice nobody will pay (its charge failed while the user waited) so dunning leaves it alone. */
  async function voidOpenInvoice(tx: Tx, invoiceId: string): Promise<void> {
    await tx.invoice.updateMany({ where: { id: invoiceId, status: 'OPEN' }, data: { status: 'VOID' } });
  }

  async function subscribe(
    actor: BillingActor,
    planId: string,
    paymentMethodId?: string | null,
  ): Promise<SubscriptionModel> {
    const userId = actor.actorUserId;
    const plan = await activePlan(planId);
    if (paymentMethodId && !(await paymentMethods.belongsTo(userId, paymentMethodId))) {
      throw new NotFoundError('Payment method not found', {
        details: { reason: BillingErrorCode.PAYMENT_METHOD_NOT_FOUND },
      });
    }
    // One free trial per user and plan family (issue #14): a user who had one subscribes without it, paying now.
    const trial = plan.trialDays > 0 && !(await trialTaken(prisma, userId, trialFamily(plan)));
    const needsPayment = plan.priceAmount > 0 && !trial;
    const methodId = paymentMethodId ?? (needsPayment ? await paymentMethods.defaultFor(userId) : null);
    if (needsPayment && !methodId) {
      throw new ValidationError('Add a payment method first', {
        details: [{ path: 'paymentMethodId', message: BillingErrorCode.PAYMENT_METHOD_REQUIRED }],
      });
    }

    const at = now();
    const { subscription, invoice } = await prisma.$transaction(async (tx) => {
      await lockUser(tx, userId);
      if (await findCurrent(tx, userId)) {
        throw new ConflictError('You already have a subscription; change its plan instead', {
          details: { reason: BillingErrorCode.SUBSCRIPTION_EXISTS },
        });
      }
      const subscriptionId = randomUUID();
      // Checked again where it counts: a trial taken since the check above (a concurrent subscribe that has
      // already ended) loses here, and the caller learns why rather than being charged unannounced.
      if (trial && !(await takeTrial(tx, { userId, planFamily: trialFamily(plan), subscriptionId, at }))) {
        throw new ConflictError('The free trial of this plan was already used; subscribe again to pay now', {
          details: { reason: BillingErrorCode.TRIAL_ALREADY_USED },
        });
      }
      const periodEnd = trial
        ? new Date(at.getTime() + plan.trialDays * DAY_MS)
        : options.addPeriod(at, plan.interval, plan.intervalCount, at);
      const status: SubscriptionStatus = trial ? 'TRIALING' : needsPayment ? 'INCOMPLETE' : 'ACTIVE';
      const created = await tx.subscription.create({
        data: {
          id: subscriptionId,
          userId,
          planId: plan.id,
          status,
          priceAmount: plan.priceAmount,
          currency: plan.currency,
          planVersion: plan.version,
          currentPeriodStart: at,
          currentPeriodEnd: periodEnd,
          // Paid periods start when the trial ends.
          billingCycleAnchor: trial ? periodEnd : at,
          trialEndsAt: trial ? periodEnd : null,
        },
        select: subscriptionColumns,
      });
      const firstInvoice = needsPayment
        ? await invoices.create(tx, {
            userId,
            subscriptionId: created.id,
            billingReason: 'SUBSCRIPTION_CREATE',
            idempotencyKey: `subscribe:${created.id}`,
            currency: plan.currency,
            lines: [
              {
                kind: 'SUBSCRIPTION',
                description: `${plan.name} (${describePeriod(at, periodEnd)})`,
                unitAmount: plan.priceAmount,
                planId: plan.id,
                periodStart: at,
                periodEnd,
              },
            ],
            taxRateBps,
            applyCredit: true,
            periodStart: at,
            periodEnd,
            dueAt: at,
          })
        : null;
      await createAuditWriter<SubscriptionAuditAction>(tx).record({
        ...auditFields(actor),
        action: 'SUBSCRIPTION_CREATED',
        outcome: 'SUCCESS',
        targetType: 'Subscription',
        targetId: created.id,
        metadata: { planId: plan.id, planCode: plan.code, status, priceAmount: plan.priceAmount },
      });
      return { subscription: created, invoice: firstInvoice };
    });

    if (invoice) await collectFirstInvoice(actor, subscription, invoice, methodId);
    const result = await requireCurrent(prisma, userId);
    await publishSafely(eventOf('subscription.created', result));
    return result;
  }

  /** Charges a new subscription's first invoice; on failure the subscription never starts. */
  async function collectFirstInvoice(
    actor: BillingActor,
    subscription: SubscriptionModel,
    invoice: LifecycleInvoice,
    methodId: string | null,
  ): Promise<void> {
    if (invoice.status === 'PAID') {
      // Covered by credit: nothing to charge.
      await prisma.subscription.updateMany({
        where: { id: subscription.id, status: 'INCOMPLETE' },
        data: { status: 'ACTIVE' },
      });
      return;
    }
    const result = await charging.chargeInvoice(invoice.id, methodId ? { paymentMethodId: methodId } : {});
    if (result.status === 'SUCCEEDED') return;
    if (result.status === 'PROCESSING') {
      // The provider settles it later (webhook): voiding now would keep money we then could not match to a
      // subscription. It stays INCOMPLETE; the payment listener activates it or ends it.
      return;
    }
    await prisma.$transaction(async (tx) => {
      // Usually already done by the payment listener (onPaymentFailed) in the payment's transaction.
      await voidOpenInvoice(tx, invoice.id);
      const ended = await tx.subscription.updateMany({
        where: { id: subscription.id, status: 'INCOMPLETE' },
        data: { status: 'CANCELED', endedAt: now(), canceledAt: now() },
      });
      if (ended.count > 0)
        await auditFirstPaymentFailed(tx, actor, subscription.id, invoice.id, result.failureReason);
    });
    throw paymentFailed(result.failureReason);
  }

  function auditFirstPaymentFailed(
    tx: Tx,
    actor: BillingActor,
    subscriptionId: string,
    invoiceId: string,
    reason: string | null | undefined,
  ) {
    return createAuditWriter<SubscriptionAuditAction>(tx).record({
      ...auditFields(actor),
      action: 'SUBSCRIPTION_PAYMENT_FAILED',
      outcome: 'FAILURE',
      targetType: 'Subscription',
      targetId: subscriptionId,
      metadata: { invoiceId, reason: reason ?? null },
    });
  }

  /**
   * A first invoice or a plan change's invoice could not be collected (declined now, or a processing payment that
   * failed later): nobody will pay it, so it is voided (dunning leaves it alone) and a subscription that never
   * started ends. Idempotent.
   */
  async function abandonUpfrontInvoice(
    tx: Tx,
    event: LifecyclePaymentEvent & { failureReason?: string },
    subscriptionId: string,
    billingReason: string,
  ): Promise<void> {
    await voidOpenInvoice(tx, event.invoiceId);
    if (billingReason !== 'SUBSCRIPTION_CREATE') return;
    const ended = await tx.subscription.updateMany({
      where: { id: subscriptionId, status: 'INCOMPLETE' },
      data: { status: 'CANCELED', endedAt: now(), canceledAt: now() },
    });
    if (ended.count === 0) return;
    await auditFirstPaymentFailed(
      tx,
      { actorUserId: event.userId },
      subscriptionId,
      event.invoiceId,
      event.failureReason,
    );
  }

  async function changePlan(actor: BillingActor, planId: string): Promise<PlanChangeResult> {
    const userId = actor.actorUserId;
    const target = await activePlan(planId);
    const at = now();
    const outcome = await prisma.$transaction(async (tx) => {
      await lockUser(tx, userId);
      const subscription = await requireCurrent(tx, userId);
      if (subscription.status !== 'ACTIVE' && subscription.status !== 'TRIALING') {
        throw new ConflictError('Settle the open payment before changing plans', {
          details: { reason: BillingErrorCode.SUBSCRIPTION_NOT_ACTIVE },
        });
      }
      if (subscription.planId === target.id) {
        throw new ConflictError('You are already on this plan', {
          details: { reason: BillingErrorCode.SAME_PLAN },
        });
      }
      const current = await tx.subscriptionPlan.findUniqueOrThrow({ where: { id: subscription.planId } });
      if (
        current.currency !== target.currency ||
        current.interval !== target.interval ||
        current.intervalCount !== target.intervalCount
      ) {
        throw new ValidationError(
          'Plans of another currency or billing interval cannot be switched to mid-period',
          {
            details: [{ path: 'planId', message: BillingErrorCode.PLAN_NOT_COMPATIBLE }],
          },
        );
      }
      // The next period was already invoiced (renewals are charged up to 24 h early): a change now would leave that
      // period billed at the old plan's price. Changes resume once the new period has started.
      const renewal = await tx.invoice.findFirst({
        where: {
          subscriptionId: subscription.id,
          billingReason: 'SUBSCRIPTION_CYCLE',
          periodStart: subscription.currentPeriodEnd,
          status: { in: ['OPEN', 'PAID'] },
        },
        select: { id: true },
      });
      if (renewal || at >= subscription.currentPeriodEnd) {
        throw new ConflictError(
          'The subscription is renewing; change plans once the new period has started',
          {
            details: {
              reason: BillingErrorCode.RENEWAL_IN_PROGRESS,
              retryAt: subscription.currentPeriodEnd.toISOString(),
            },
          },
        );
      }
      const audit = (metadata: Record<string, AuditMetadataValue>) =>
        createAuditWriter<SubscriptionAuditAction>(tx).record({
          ...auditFields(actor),
          action: 'SUBSCRIPTION_PLAN_CHANGED',
          outcome: 'SUCCESS',
          targetType: 'Subscription',
          targetId: subscription.id,
          metadata: { fromPlanId: current.id, toPlanId: target.id, ...metadata },
        });

      if (subscription.status === 'TRIALING') {
        // Nothing was paid yet: the trial simply continues on the new plan, and counts as that family's trial too
        // (or trialing one plan and switching would leave a fresh trial of the other for later).
        await takeTrial(tx, { userId, planFamily: trialFamily(target), subscriptionId: subscription.id, at });
        await switchPlan(tx, subscription.id, target);
        await audit({ trial: true });
        return { subscriptionId: subscription.id, invoice: null, creditAmount: 0 };
      }

      const { credit, charge } = options.prorate({
        oldPrice: subscription.priceAmount,
        newPrice: target.priceAmount,
        periodStart: subscription.currentPeriodStart,
        periodEnd: subscription.currentPeriodEnd,
        at,
      });
      if (charge > credit) {
        const lines: LifecycleInvoiceLine[] = [
          {
            kind: 'PRORATION',
            description: `Unused time on ${current.name} (${describePeriod(at, subscription.currentPeriodEnd)})`,
            unitAmount: -credit,
            planId: current.id,
            periodStart: at,
            periodEnd: subscription.currentPeriodEnd,
          },
          {
            kind: 'PRORATION',
            description: `Remaining time on ${target.name} (${describePeriod(at, subscription.currentPeriodEnd)})`,
            unitAmount: charge,
            planId: target.id,
            periodStart: at,
            periodEnd: subscription.currentPeriodEnd,
          },
        ];
        const invoice = await invoices.create(tx, {
          userId,
          subscriptionId: subscription.id,
          billingReason: 'SUBSCRIPTION_UPDATE',
          idempotencyKey: `change:${subscription.id}:${target.id}:${at.toISOString()}`,
          currency: subscription.currency,
          lines,
          taxRateBps,
          applyCredit: true,
          periodStart: at,
          periodEnd: subscription.currentPeriodEnd,
          dueAt: at,
        });
        await audit({ credit, charge, invoiceId: invoice.id });
        return { subscriptionId: subscription.id, invoice, creditAmount: 0 };
      }

      const creditAmount = credit - charge;
      await switchPlan(tx, subscription.id, target);
      if (creditAmount > 0) {
        const updated = await tx.billingCustomer.updateMany({
          where: { userId },
          data: { creditBalance: { increment: creditAmount }, currency: subscription.currency },
        });
        if (updated.count === 0) {
          // Only a customer who paid can be owed credit, and paying creates the customer: log the anomaly.
          logger.error({ userId, creditAmount }, 'downgrade credit without a billing customer');
        }
      }
      await audit({ credit, charge, creditAdded: creditAmount });
      return { subscriptionId: subscription.id, invoice: null, creditAmount };
    });

    if (outcome.invoice) {
      if (outcome.invoice.status === 'PAID') {
        await prisma.$transaction((tx) => applyPlanChangeInvoice(tx, outcome.invoice!.id));
      } else {
        const result = await charging.chargeInvoice(outcome.invoice.id);
        // PROCESSING: the plan switches when the provider confirms the payment (payment listener).
        if (result.status !== 'SUCCEEDED' && result.status !== 'PROCESSING') {
          await prisma.$transaction((tx) => voidOpenInvoice(tx, outcome.invoice!.id));
          throw paymentFailed(result.failureReason);
        }
      }
    }
    const subscription = await requireCurrent(prisma, userId);
    await publishSafely(eventOf('subscription.updated', subscription));
    return { subscription, invoiceId: outcome.invoice?.id ?? null, creditAmount: outcome.creditAmount };
  }

  async function switchPlan(tx: Tx, subscriptionId: string, plan: SubscriptionPlan): Promise<void> {
    await tx.subscription.update({
      where: { id: subscriptionId },
      data: { planId: plan.id, priceAmount: plan.priceAmount, planVersion: plan.version },
    });
  }

  /** A paid proration invoice moves the subscription to the plan of its positive line. */
  async function applyPlanChangeInvoice(tx: Tx, invoiceId: string): Promise<void> {
    const invoice = await tx.invoice.findUnique({
      where: { id: invoiceId },
      select: { subscriptionId: true, lineItems: { select: { planId: true, amount: true, kind: true } } },
    });
    const targetPlanId = invoice?.lineItems.find(
      (line) => line.kind === 'PRORATION' && line.amount > 0,
    )?.planId;
    if (!invoice?.subscriptionId || !targetPlanId) return;
    const plan = await tx.subscriptionPlan.findUniqueOrThrow({ where: { id: targetPlanId } });
    await switchPlan(tx, invoice.subscriptionId, plan);
  }

  async function cancel(actor: BillingActor): Promise<SubscriptionModel> {
    const userId = actor.actorUserId;
    const { subscription, changed, accessUntil } = await prisma.$transaction(async (tx) => {
      await lockUser(tx, userId);
      const current = await requireCurrent(tx, userId);
      if (current.cancelAtPeriodEnd) {
        return { subscription: current, changed: false, accessUntil: current.currentPeriodEnd };
      }
      const updated = await tx.subscription.update({
        where: { id: current.id },
        data: { cancelAtPeriodEnd: true, canceledAt: now() },
        select: subscriptionColumns,
      });
      // A renewal already paid (charged up to 24 h early) is honoured: access runs to the end of that period.
      const paidRenewal = await tx.invoice.findFirst({
        where: {
          subscriptionId: current.id,
          billingReason: 'SUBSCRIPTION_CYCLE',
          periodStart: current.currentPeriodEnd,
          status: 'PAID',
        },
        select: { periodEnd: true },
      });
      const accessUntil = paidRenewal?.periodEnd ?? current.currentPeriodEnd;
      await createAuditWriter<SubscriptionAuditAction>(tx).record({
        ...auditFields(actor),
        action: 'SUBSCRIPTION_CANCELED',
        outcome: 'SUCCESS',
        targetType: 'Subscription',
        targetId: current.id,
        metadata: { accessUntil: accessUntil.toISOString() },
      });
      return { subscription: updated, changed: true, accessUntil };
    });
    if (changed) {
      const plan = await prisma.subscriptionPlan.findUnique({ where: { id: subscription.planId } });
      await notifySafely({
        template: 'subscription-canceled',
        userId,
        accessUntil,
        planName: plan?.name ?? 'your plan',
      });
      await publishSafely(eventOf('subscription.canceled', subscription));
    }
    return subscription;
  }

  async function resume(actor: BillingActor): Promise<SubscriptionModel> {
    const userId = actor.actorUserId;
    const subscription = await prisma.$transaction(async (tx) => {
      await lockUser(tx, userId);
      const current = await requireCurrent(tx, userId);
      if (!current.cancelAtPeriodEnd || current.currentPeriodEnd <= now()) {
        throw new ConflictError('The subscription is not waiting to be canceled', {
          details: { reason: BillingErrorCode.NOT_CANCELED },
        });
      }
      const updated = await tx.subscription.update({
        where: { id: current.id },
        data: { cancelAtPeriodEnd: false, canceledAt: null },
        select: subscriptionColumns,
      });
      await createAuditWriter<SubscriptionAuditAction>(tx).record({
        ...auditFields(actor),
        action: 'SUBSCRIPTION_RESUMED',
        outcome: 'SUCCESS',
        targetType: 'Subscription',
        targetId: current.id,
      });
      return updated;
    });
    await publishSafely(eventOf('subscription.resumed', subscription));
    return subscription;
  }

  /** Advances a subscription to the period a paid renewal invoice covers (once: a second call finds it moved). */
  async function applyRenewal(tx: Tx, invoiceId: string): Promise<SubscriptionModel | null> {
    const invoice = await tx.invoice.findUnique({
      where: { id: invoiceId },
      select: {
        subscriptionId: true,
        periodStart: true,
        periodEnd: true,
        lineItems: { select: { kind: true, unitAmount: true, planId: true } },
      },
    });
    if (!invoice?.subscriptionId || !invoice.periodStart || !invoice.periodEnd) return null;
    const line = invoice.lineItems.find((item) => item.kind === 'SUBSCRIPTION');
    const plan = line?.planId
      ? await tx.subscriptionPlan.findUnique({ where: { id: line.planId }, select: { version: true } })
      : null;
    // A renewal is charged up to 24 h early; the subscription moves to the new period only once it starts (usage
    // counts, proration and the displayed period stay on the current one until then). The renewal job moves it.
    if (invoice.periodStart > now()) {
      // A retry or a new card paid a failed early renewal: the current period was paid, so the subscription is in
      // good standing again (the renewal job only moves ACTIVE/TRIALING ones; left PAST_DUE it would never move).
      const current = await tx.subscription.findUnique({
        where: { id: invoice.subscriptionId },
        select: subscriptionColumns,
      });
      if (!current || !['PAST_DUE', 'SUSPENDED', 'UNPAID'].includes(current.status)) return current;
      const trialing = current.trialEndsAt !== null && current.trialEndsAt >= invoice.periodStart;
      return tx.subscription.update({
        where: { id: current.id },
        data: { status: trialing ? 'TRIALING' : 'ACTIVE' },
        select: subscriptionColumns,
      });
    }
    const moved = await tx.subscription.updateMany({
      where: { id: invoice.subscriptionId, currentPeriodEnd: invoice.periodStart, endedAt: null },
      data: {
        currentPeriodStart: invoice.periodStart,
        currentPeriodEnd: invoice.periodEnd,
        status: 'ACTIVE',
        ...(line ? { priceAmount: line.unitAmount } : {}),
        ...(plan ? { planVersion: plan.version } : {}),
      },
    });
    if (moved.count === 0) {
      // Already advanced (a second delivery of the same outcome), or a retry paid a past-due renewal.
      await tx.subscription.updateMany({
        where: {
          id: invoice.subscriptionId,
          status: { in: ['PAST_DUE', 'SUSPENDED', 'UNPAID'] },
          endedAt: null,
        },
        data: { status: 'ACTIVE' },
      });
    }
    return tx.subscription.findUnique({ where: { id: invoice.subscriptionId }, select: subscriptionColumns });
  }

  async function onPaymentSucceeded(event: LifecyclePaymentEvent, tx: Tx): Promise<AfterCommit | void> {
    const invoice = await tx.invoice.findUnique({
      where: { id: event.invoiceId },
      select: { subscriptionId: true, billingReason: true },
    });
    if (!invoice?.subscriptionId) return;
    const audit = createAuditWriter<SubscriptionAuditAction>(tx);
    switch (invoice.billingReason) {
      case 'SUBSCRIPTION_CREATE': {
        const activated = await tx.subscription.updateMany({
          where: { id: invoice.subscriptionId, status: { in: ['INCOMPLETE', 'PAST_DUE', 'SUSPENDED'] } },
          data: { status: 'ACTIVE' },
        });
        if (activated.count > 0) {
          await audit.record({
            actorUserId: event.userId,
            action: 'SUBSCRIPTION_ACTIVATED',
            outcome: 'SUCCESS',
            targetType: 'Subscription',
            targetId: invoice.subscriptionId,
            metadata: { invoiceId: event.invoiceId },
          });
        }
        return;
      }
      case 'SUBSCRIPTION_CYCLE': {
        const subscription = await applyRenewal(tx, event.invoiceId);
        await audit.record({
          actorUserId: event.userId,
          action: 'SUBSCRIPTION_RENEWED',
          outcome: 'SUCCESS',
          targetType: 'Subscription',
          targetId: invoice.subscriptionId,
          metadata: {
            invoiceId: event.invoiceId,
            periodEnd: subscription?.currentPeriodEnd.toISOString() ?? null,
          },
        });
        return subscription ? () => publishSafely(eventOf('subscription.updated', subscription)) : undefined;
      }
      case 'SUBSCRIPTION_UPDATE':
        await applyPlanChangeInvoice(tx, event.invoiceId);
        return;
      default:
        return;
    }
  }

  async function onPaymentFailed(
    event: LifecyclePaymentEvent & { final: boolean; failureReason?: string },
    tx: Tx,
  ): Promise<AfterCommit | void> {
    const invoice = await tx.invoice.findUnique({
      where: { id: event.invoiceId },
      select: { subscriptionId: true, billingReason: true },
    });
    if (!invoice?.subscriptionId) return;
    if (invoice.billingReason === 'SUBSCRIPTION_CREATE' || invoice.billingReason === 'SUBSCRIPTION_UPDATE') {
      // Charged while the user waits, never retried by dunning.
      await abandonUpfrontInvoice(tx, event, invoice.subscriptionId, invoice.billingReason);
      return;
    }
    if (invoice.billingReason !== 'SUBSCRIPTION_CYCLE') return;
    const status: SubscriptionStatus = event.final ? 'SUSPENDED' : 'PAST_DUE';
    const changed = await tx.subscription.updateMany({
      where: { id: invoice.subscriptionId, endedAt: null, status: { not: status } },
      data: { status },
    });
    if (changed.count === 0) return;
    await createAuditWriter<SubscriptionAuditAction>(tx).record({
      actorUserId: event.userId,
      action: event.final ? 'SUBSCRIPTION_SUSPENDED' : 'SUBSCRIPTION_PAST_DUE',
      outcome: 'FAILURE',
      targetType: 'Subscription',
      targetId: invoice.subscriptionId,
      metadata: { invoiceId: event.invoiceId },
    });
    const subscription = await tx.subscription.findUnique({
      where: { id: invoice.subscriptionId },
      select: { ...subscriptionColumns, plan: { select: { name: true } } },
    });
    if (!subscription) return;
    const { plan, ...model } = subscription;
    return async () => {
      await publishSafely(eventOf('subscription.updated', model));
      if (event.final) {
        await notifySafely({ template: 'subscription-suspended', userId: event.userId, planName: plan.name });
      }
    };
  }

  /** Creates (or finds) the renewal invoice of one due subscription, claimed with SKIP LOCKED. */
  async function invoiceRenewal(subscriptionId: string, at: Date): Promise<LifecycleInvoice | null> {
    return prisma.$transaction(async (tx) => {
      const claimed = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM subscriptions
        WHERE id = ${subscriptionId}::uuid AND status IN ('ACTIVE', 'TRIALING') AND ended_at IS NULL
          AND cancel_at_period_end = false AND current_period_end <= ${new Date(at.getTime() + RENEWAL_LEAD_MS)}
        FOR UPDATE SKIP LOCKED`;
      if (claimed.length === 0) return null;
      const subscription = await tx.subscription.findUniqueOrThrow({
        where: { id: subscriptionId },
        select: { ...subscriptionColumns, billingCycleAnchor: true, plan: true },
      });
      const { plan } = subscription;
      const periodStart = subscription.currentPeriodEnd;
      const periodEnd = options.addPeriod(
        periodStart,
        plan.interval,
        plan.intervalCount,
        subscription.billingCycleAnchor,
      );
      return invoices.create(tx, {
        userId: subscription.userId,
        subscriptionId,
        billingReason: 'SUBSCRIPTION_CYCLE',
        idempotencyKey: `renewal:${subscriptionId}:${periodStart.toISOString()}`,
        // The plan's price now: an edit made during the last period applies from this renewal.
        currency: plan.currency,
        lines: [
          {
            kind: 'SUBSCRIPTION',
            description: `${plan.name} (${describePeriod(periodStart, periodEnd)})`,
            unitAmount: plan.priceAmount,
            planId: plan.id,
            periodStart,
            periodEnd,
          },
        ],
        taxRateBps,
        applyCredit: true,
        periodStart,
        periodEnd,
        dueAt: periodStart,
      });
    });
  }

  async function renewDue(): Promise<{ renewed: number; ended: number; failed: number }> {
    const at = now();
    let renewed = 0;
    let failed = 0;

    // Canceled at period end and the period is over: the subscription ends.
    const ending = await prisma.subscription.findMany({
      where: {
        cancelAtPeriodEnd: true,
        endedAt: null,
        currentPeriodEnd: { lte: at },
        status: { in: CURRENT_STATUSES },
      },
      select: subscriptionColumns,
      take: RENEWAL_BATCH,
    });
    let ended = 0;
    for (const subscription of ending) {
      const done = await prisma.$transaction(async (tx) => {
        // Canceled after the next period was already charged (up to 24 h early): the customer keeps the period
        // they paid for; it moves there and ends at its end (cancelAtPeriodEnd stays set).
        const paidRenewal = await tx.invoice.findFirst({
          where: {
            subscriptionId: subscription.id,
            billingReason: 'SUBSCRIPTION_CYCLE',
            status: 'PAID',
            periodStart: subscription.currentPeriodEnd,
          },
          select: { id: true },
        });
        if (paidRenewal) {
          await applyRenewal(tx, paidRenewal.id);
          return false;
        }
        const result = await tx.subscription.updateMany({
          where: { id: subscription.id, endedAt: null },
          data: { status: 'CANCELED', endedAt: at },
        });
        if (result.count > 0) {
          await createAuditWriter<SubscriptionAuditAction>(tx).record({
            actorUserId: subscription.userId,
            action: 'SUBSCRIPTION_ENDED',
            outcome: 'SUCCESS',
            targetType: 'Subscription',
            targetId: subscription.id,
            at,
          });
        }
        return result.count > 0;
      });
      if (done) {
        ended += 1;
        await publishSafely(eventOf('subscription.canceled', { ...subscription, status: 'CANCELED' }));
      }
    }

    const due = await prisma.subscription.findMany({
      where: {
        status: { in: ['ACTIVE', 'TRIALING'] },
        endedAt: null,
        cancelAtPeriodEnd: false,
        currentPeriodEnd: { lte: new Date(at.getTime() + RENEWAL_LEAD_MS) },
      },
      select: { id: true },
      orderBy: { currentPeriodEnd: 'asc' },
      take: RENEWAL_BATCH,
    });
    for (const { id } of due) {
      try {
        const invoice = await invoiceRenewal(id, at);
        if (!invoice) continue;
        if (invoice.status === 'PAID') {
          // Free plan or covered by credit: advance now.
          await prisma.$transaction((tx) => applyRenewal(tx, invoice.id));
          renewed += 1;
          continue;
        }
        if (invoice.status !== 'OPEN') continue;
        const result = await charging.chargeInvoice(invoice.id);
        if (result.status === 'SUCCEEDED') renewed += 1;
        else failed += 1;
      } catch (err) {
        failed += 1;
        logger.error({ err, subscriptionId: id }, 'renewal failed');
      }
    }
    return { renewed, ended, failed };
  }

  return {
    current: (userId) => findCurrent(prisma, userId),
    subscribe,
    changePlan,
    cancel,
    resume,
    renewDue,
    onPaymentSucceeded,
    onPaymentFailed,
  };
}
