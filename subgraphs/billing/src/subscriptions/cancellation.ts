import { ConflictError } from '@gatehouse/errors';
import { SubscriptionErrorCode } from './error-codes';
import type { SubscriptionModel } from '../models';
import { auditFields, type LifecycleToolkit } from './lifecycle-toolkit';
import type { BillingActor } from './lifecycle-types';

/** Canceling at period end (access runs to the end of what was paid) and taking the cancellation back. */
export function createCancellationStep(kit: LifecycleToolkit) {
  const { billing, subscriptions, now } = kit;

  async function cancel(actor: BillingActor): Promise<SubscriptionModel> {
    const userId = actor.actorUserId;
    const { subscription, changed, accessUntil } = await billing.transaction(async (unit) => {
      await unit.subscriptions.lockUser(userId);
      const current = await kit.requireCurrent(unit.subscriptions, userId);
      if (current.cancelAtPeriodEnd) {
        return { subscription: current, changed: false, accessUntil: current.currentPeriodEnd };
      }
      const updated = await unit.subscriptions.markCancelAtPeriodEnd(current.id, now());
      // A renewal already paid (charged up to 24 h early) is honoured: access runs to the end of that period.
      const paidRenewal = await unit.subscriptions.findRenewalInvoice(current.id, current.currentPeriodEnd, [
        'PAID',
      ]);
      const accessUntil = paidRenewal?.periodEnd ?? current.currentPeriodEnd;
      await unit.subscriptions.audit({
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
      const plan = await subscriptions.findPlan(subscription.planId);
      await kit.notifySafely({
        template: 'subscription-canceled',
        userId,
        accessUntil,
        planName: plan?.name ?? 'your plan',
      });
      await kit.publishSafely(kit.eventOf('subscription.canceled', subscription));
    }
    return subscription;
  }

  async function resume(actor: BillingActor): Promise<SubscriptionModel> {
    const userId = actor.actorUserId;
    const subscription = await billing.transaction(async (unit) => {
      await unit.subscriptions.lockUser(userId);
      const current = await kit.requireCurrent(unit.subscriptions, userId);
      if (!current.cancelAtPeriodEnd || current.currentPeriodEnd <= now()) {
        throw new ConflictError('The subscription is not waiting to be canceled', {
          details: { reason: SubscriptionErrorCode.NOT_CANCELED },
        });
      }
      const updated = await unit.subscriptions.clearCancelAtPeriodEnd(current.id);
      await unit.subscriptions.audit({
        ...auditFields(actor),
        action: 'SUBSCRIPTION_RESUMED',
        outcome: 'SUCCESS',
        targetType: 'Subscription',
        targetId: current.id,
      });
      return updated;
    });
    await kit.publishSafely(kit.eventOf('subscription.resumed', subscription));
    return subscription;
  }

  return { cancel, resume };
}
