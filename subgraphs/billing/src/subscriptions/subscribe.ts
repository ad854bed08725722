import { randomUUID } from 'node:crypto';
import type { SubscriptionStatus } from '@gatehouse/db';
import { ConflictError, NotFoundError, ValidationError } from '@gatehouse/errors';
import { BillingErrorCode } from '../error-codes';
import { SubscriptionErrorCode } from './error-codes';
import type { SubscriptionModel } from '../models';
import { auditFields, describePeriod, paymentFailed, type LifecycleToolkit } from './lifecycle-toolkit';
import type { BillingActor } from './lifecycle-types';
import type { LifecycleInvoice } from './ports';
import type { SubscriptionWriteUnit } from './subscription.repository';
import { trialFamily } from './trials';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Records that a subscription's first payment failed (it never started). */
export function auditFirstPaymentFailed(
  unit: SubscriptionWriteUnit,
  actor: BillingActor,
  subscriptionId: string,
  invoiceId: string,
  reason: string | null | undefined,
): Promise<void> {
  return unit.audit({
    ...auditFields(actor),
    action: 'SUBSCRIPTION_PAYMENT_FAILED',
    outcome: 'FAILURE',
    targetType: 'Subscription',
    targetId: subscriptionId,
    metadata: { invoiceId, reason: reason ?? null },
  });
}

/** Starting a subscription: a free trial once per plan family, else the first invoice charged while the user waits. */
export function createSubscribeStep(kit: LifecycleToolkit) {
  const { billing, subscriptions, invoices, charging, paymentMethods, now } = kit;

  /** Charges a new subscription's first invoice; on failure the subscription never starts. */
  async function collectFirstInvoice(
    actor: BillingActor,
    subscription: SubscriptionModel,
    invoice: LifecycleInvoice,
    methodId: string | null,
  ): Promise<void> {
    if (invoice.status === 'PAID') {
      // Covered by credit: nothing to charge.
      await subscriptions.activateIncomplete(subscription.id);
      return;
    }
    const result = await charging.chargeInvoice(invoice.id, methodId ? { paymentMethodId: methodId } : {});
    if (result.status === 'SUCCEEDED') return;
    if (result.status === 'PROCESSING') {
      // The provider settles it later (webhook): voiding now would keep money we then could not match to a
      // subscription. It stays INCOMPLETE; the payment listener activates it or ends it.
      return;
    }
    await billing.transaction(async (unit) => {
      // Usually already done by the payment listener (onPaymentFailed) in the payment's transaction.
      await unit.invoices.voidIfOpen(invoice.id);
      if (await unit.subscriptions.endIncomplete(subscription.id, now()))
        await auditFirstPaymentFailed(
          unit.subscriptions,
          actor,
          subscription.id,
          invoice.id,
          result.failureReason,
        );
    });
    throw paymentFailed(result.failureReason);
  }

  async function subscribe(
    actor: BillingActor,
    planId: string,
    paymentMethodId?: string | null,
  ): Promise<SubscriptionModel> {
    const userId = actor.actorUserId;
    const plan = await kit.activePlan(planId);
    if (paymentMethodId && !(await paymentMethods.belongsTo(userId, paymentMethodId))) {
      throw new NotFoundError('Payment method not found', {
        details: { reason: BillingErrorCode.PAYMENT_METHOD_NOT_FOUND },
      });
    }
    // One free trial per user and plan family (issue #14): a user who had one subscribes without it, paying now.
    const trial = plan.trialDays > 0 && !(await subscriptions.isTrialTaken(userId, trialFamily(plan)));
    const needsPayment = plan.priceAmount > 0 && !trial;
    const methodId = paymentMethodId ?? (needsPayment ? await paymentMethods.defaultFor(userId) : null);
    if (needsPayment && !methodId) {
      throw new ValidationError('Add a payment method first', {
        details: [{ path: 'paymentMethodId', message: SubscriptionErrorCode.PAYMENT_METHOD_REQUIRED }],
      });
    }

    const at = now();
    const { subscription, invoice } = await billing.transaction(async (unit) => {
      await unit.subscriptions.lockUser(userId);
      if (await unit.subscriptions.findCurrent(userId)) {
        throw new ConflictError('You already have a subscription; change its plan instead', {
          details: { reason: SubscriptionErrorCode.SUBSCRIPTION_EXISTS },
        });
      }
      const subscriptionId = randomUUID();
      // Checked again where it counts: a trial taken since the check above (a concurrent subscribe that has
      // already ended) loses here, and the caller learns why rather than being charged unannounced.
      if (
        trial &&
        !(await unit.subscriptions.takeTrial({ userId, planFamily: trialFamily(plan), subscriptionId, at }))
      ) {
        throw new ConflictError('The free trial of this plan was already used; subscribe again to pay now', {
          details: { reason: SubscriptionErrorCode.TRIAL_ALREADY_USED },
        });
      }
      const periodEnd = trial
        ? new Date(at.getTime() + plan.trialDays * DAY_MS)
        : kit.addPeriod(at, plan.interval, plan.intervalCount, at);
      const status: SubscriptionStatus = trial ? 'TRIALING' : needsPayment ? 'INCOMPLETE' : 'ACTIVE';
      const created = await unit.subscriptions.insert({
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
      });
      const firstInvoice = needsPayment
        ? await invoices.create(unit.invoices, {
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
            taxRateBps: kit.taxRateBps,
            applyCredit: true,
            periodStart: at,
            periodEnd,
            dueAt: at,
          })
        : null;
      await unit.subscriptions.audit({
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
    const result = await kit.requireCurrent(subscriptions, userId);
    await kit.publishSafely(kit.eventOf('subscription.created', result));
    return result;
  }

  return { subscribe };
}
