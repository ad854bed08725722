import type { SubscriptionStatus } from '@gatehouse/db';
import type { BillingWriteUnit } from '../billing.repository';
import type { LifecycleToolkit } from './lifecycle-toolkit';
import type { AfterCommit, LifecyclePaymentEvent } from './lifecycle-types';
import { applyPlanChangeInvoice } from './plan-change';
import { applyRenewal } from './renewal';
import { auditFirstPaymentFailed } from './subscribe';

/**
 * What a payment's outcome does to its subscription, inside the payment's write unit: a first payment activates it,
 * a renewal moves it to the next period, a plan change switches the plan; a failed renewal makes it past due (or
 * suspended once dunning gives up), a failed upfront charge voids its invoice.
 */
export function createPaymentOutcomeStep(kit: LifecycleToolkit) {
  const { now } = kit;

  /**
   * A first invoice or a plan change's invoice could not be collected (declined now, or a processing payment that
   * failed later): nobody will pay it, so it is voided (dunning leaves it alone) and a subscription that never
   * started ends. Idempotent.
   */
  async function abandonUpfrontInvoice(
    unit: BillingWriteUnit,
    event: LifecyclePaymentEvent & { failureReason?: string },
    subscriptionId: string,
    billingReason: string,
  ): Promise<void> {
    await unit.invoices.voidIfOpen(event.invoiceId);
    if (billingReason !== 'SUBSCRIPTION_CREATE') return;
    if (!(await unit.subscriptions.endIncomplete(subscriptionId, now()))) return;
    await auditFirstPaymentFailed(
      unit.subscriptions,
      { actorUserId: event.userId },
      subscriptionId,
      event.invoiceId,
      event.failureReason,
    );
  }

  async function onPaymentSucceeded(
    event: LifecyclePaymentEvent,
    unit: BillingWriteUnit,
  ): Promise<AfterCommit | void> {
    const invoice = await unit.subscriptions.findInvoiceRef(event.invoiceId);
    if (!invoice?.subscriptionId) return;
    switch (invoice.billingReason) {
      case 'SUBSCRIPTION_CREATE': {
        if (await unit.subscriptions.activateFirstPaid(invoice.subscriptionId)) {
          await unit.subscriptions.audit({
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
        const subscription = await applyRenewal(unit.subscriptions, event.invoiceId, now);
        await unit.subscriptions.audit({
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
        return subscription
          ? () => kit.publishSafely(kit.eventOf('subscription.updated', subscription))
          : undefined;
      }
      case 'SUBSCRIPTION_UPDATE':
        await applyPlanChangeInvoice(unit.subscriptions, event.invoiceId);
        return;
      default:
        return;
    }
  }

  async function onPaymentFailed(
    event: LifecyclePaymentEvent & { final: boolean; failureReason?: string },
    unit: BillingWriteUnit,
  ): Promise<AfterCommit | void> {
    const invoice = await unit.subscriptions.findInvoiceRef(event.invoiceId);
    if (!invoice?.subscriptionId) return;
    if (invoice.billingReason === 'SUBSCRIPTION_CREATE' || invoice.billingReason === 'SUBSCRIPTION_UPDATE') {
      // Charged while the user waits, never retried by dunning.
      await abandonUpfrontInvoice(unit, event, invoice.subscriptionId, invoice.billingReason);
      return;
    }
    if (invoice.billingReason !== 'SUBSCRIPTION_CYCLE') return;
    const status: SubscriptionStatus = event.final ? 'SUSPENDED' : 'PAST_DUE';
    if (!(await unit.subscriptions.markDelinquent(invoice.subscriptionId, status))) return;
    await unit.subscriptions.audit({
      actorUserId: event.userId,
      action: event.final ? 'SUBSCRIPTION_SUSPENDED' : 'SUBSCRIPTION_PAST_DUE',
      outcome: 'FAILURE',
      targetType: 'Subscription',
      targetId: invoice.subscriptionId,
      metadata: { invoiceId: event.invoiceId },
    });
    const found = await unit.subscriptions.findWithPlanName(invoice.subscriptionId);
    if (!found) return;
    const { subscription, planName } = found;
    return async () => {
      await kit.publishSafely(kit.eventOf('subscription.updated', subscription));
      if (event.final) {
        await kit.notifySafely({ template: 'subscription-suspended', userId: event.userId, planName });
      }
    };
  }

  return { onPaymentSucceeded, onPaymentFailed };
}
