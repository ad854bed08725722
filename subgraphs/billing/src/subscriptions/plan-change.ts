import type { AuditMetadataValue } from '@gatehouse/audit';
import { ConflictError, ValidationError } from '@gatehouse/errors';
import { SubscriptionErrorCode } from './error-codes';
import { auditFields, describePeriod, paymentFailed, type LifecycleToolkit } from './lifecycle-toolkit';
import type { BillingActor, PlanChangeResult } from './lifecycle-types';
import type { LifecycleInvoiceLine } from './ports';
import type { SubscriptionWriteUnit } from './subscription.repository';
import { trialFamily } from './trials';

/** A paid proration invoice moves the subscription to the plan of its positive line. */
export async function applyPlanChangeInvoice(unit: SubscriptionWriteUnit, invoiceId: string): Promise<void> {
  const invoice = await unit.findPlanChangeInvoice(invoiceId);
  const targetPlanId = invoice?.lines.find((line) => line.kind === 'PRORATION' && line.amount > 0)?.planId;
  if (!invoice?.subscriptionId || !targetPlanId) return;
  const plan = await unit.findPlanOrThrow(targetPlanId);
  await unit.switchPlan(invoice.subscriptionId, plan);
}

/**
 * Changing plans mid-period: a trial continues on the new plan; an upgrade is prorated and charged at once (the
 * switch follows the payment); a downgrade switches now and credits the difference.
 */
export function createPlanChangeStep(kit: LifecycleToolkit) {
  const { billing, subscriptions, invoices, charging, logger, now } = kit;

  async function changePlan(actor: BillingActor, planId: string): Promise<PlanChangeResult> {
    const userId = actor.actorUserId;
    const target = await kit.activePlan(planId);
    const at = now();
    const outcome = await billing.transaction(async (unit) => {
      await unit.subscriptions.lockUser(userId);
      const subscription = await kit.requireCurrent(unit.subscriptions, userId);
      if (subscription.status !== 'ACTIVE' && subscription.status !== 'TRIALING') {
        throw new ConflictError('Settle the open payment before changing plans', {
          details: { reason: SubscriptionErrorCode.SUBSCRIPTION_NOT_ACTIVE },
        });
      }
      if (subscription.planId === target.id) {
        throw new ConflictError('You are already on this plan', {
          details: { reason: SubscriptionErrorCode.SAME_PLAN },
        });
      }
      const current = await unit.subscriptions.findPlanOrThrow(subscription.planId);
      if (
        current.currency !== target.currency ||
        current.interval !== target.interval ||
        current.intervalCount !== target.intervalCount
      ) {
        throw new ValidationError(
          'Plans of another currency or billing interval cannot be switched to mid-period',
          {
            details: [{ path: 'planId', message: SubscriptionErrorCode.PLAN_NOT_COMPATIBLE }],
          },
        );
      }
      // The next period was already invoiced (renewals are charged up to 24 h early): a change now would leave that
      // period billed at the old plan's price. Changes resume once the new period has started.
      const renewal = await unit.subscriptions.findRenewalInvoice(
        subscription.id,
        subscription.currentPeriodEnd,
        ['OPEN', 'PAID'],
      );
      if (renewal || at >= subscription.currentPeriodEnd) {
        throw new ConflictError(
          'The subscription is renewing; change plans once the new period has started',
          {
            details: {
              reason: SubscriptionErrorCode.RENEWAL_IN_PROGRESS,
              retryAt: subscription.currentPeriodEnd.toISOString(),
            },
          },
        );
      }
      const audit = (metadata: Record<string, AuditMetadataValue>) =>
        unit.subscriptions.audit({
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
        await unit.subscriptions.takeTrial({
          userId,
          planFamily: trialFamily(target),
          subscriptionId: subscription.id,
          at,
        });
        await unit.subscriptions.switchPlan(subscription.id, target);
        await audit({ trial: true });
        return { subscriptionId: subscription.id, invoice: null, creditAmount: 0 };
      }

      const { credit, charge } = kit.prorate({
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
        const invoice = await invoices.create(unit.invoices, {
          userId,
          subscriptionId: subscription.id,
          billingReason: 'SUBSCRIPTION_UPDATE',
          idempotencyKey: `change:${subscription.id}:${target.id}:${at.toISOString()}`,
          currency: subscription.currency,
          lines,
          taxRateBps: kit.taxRateBps,
          applyCredit: true,
          periodStart: at,
          periodEnd: subscription.currentPeriodEnd,
          dueAt: at,
        });
        await audit({ credit, charge, invoiceId: invoice.id });
        return { subscriptionId: subscription.id, invoice, creditAmount: 0 };
      }

      const creditAmount = credit - charge;
      await unit.subscriptions.switchPlan(subscription.id, target);
      if (creditAmount > 0) {
        if (!(await unit.subscriptions.addCredit(userId, creditAmount, subscription.currency))) {
          // Only a customer who paid can be owed credit, and paying creates the customer: log the anomaly.
          logger.error({ userId, creditAmount }, 'downgrade credit without a billing customer');
        }
      }
      await audit({ credit, charge, creditAdded: creditAmount });
      return { subscriptionId: subscription.id, invoice: null, creditAmount };
    });

    const changeInvoice = outcome.invoice;
    if (changeInvoice) {
      if (changeInvoice.status === 'PAID') {
        await billing.transaction((unit) => applyPlanChangeInvoice(unit.subscriptions, changeInvoice.id));
      } else {
        const result = await charging.chargeInvoice(changeInvoice.id);
        // PROCESSING: the plan switches when the provider confirms the payment (payment listener).
        if (result.status !== 'SUCCEEDED' && result.status !== 'PROCESSING') {
          await billing.transaction((unit) => unit.invoices.voidIfOpen(changeInvoice.id));
          throw paymentFailed(result.failureReason);
        }
      }
    }
    const subscription = await kit.requireCurrent(subscriptions, userId);
    await kit.publishSafely(kit.eventOf('subscription.updated', subscription));
    return { subscription, invoiceId: changeInvoice?.id ?? null, creditAmount: outcome.creditAmount };
  }

  return { changePlan };
}
