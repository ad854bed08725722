import type { SubscriptionModel } from '../models';
import { describePeriod, type LifecycleToolkit } from './lifecycle-toolkit';
import type { LifecycleInvoice } from './ports';
import type { SubscriptionWriteUnit } from './subscription.repository';

/** Renewal invoices are created this long before the period ends. */
export const RENEWAL_LEAD_MS = 24 * 60 * 60 * 1000;
const RENEWAL_BATCH = 100;

/** Advances a subscription to the period a paid renewal invoice covers (once: a second call finds it moved). */
export async function applyRenewal(
  unit: SubscriptionWriteUnit,
  invoiceId: string,
  now: () => Date,
): Promise<SubscriptionModel | null> {
  const invoice = await unit.findRenewalInvoiceById(invoiceId);
  if (!invoice?.subscriptionId || !invoice.periodStart || !invoice.periodEnd) return null;
  const line = invoice.lines.find((item) => item.kind === 'SUBSCRIPTION');
  const planVersion = line?.planId ? await unit.planVersion(line.planId) : null;
  // A renewal is charged up to 24 h early; the subscription moves to the new period only once it starts (usage
  // counts, proration and the displayed period stay on the current one until then). The renewal job moves it.
  if (invoice.periodStart > now()) {
    // A retry or a new card paid a failed early renewal: the current period was paid, so the subscription is in
    // good standing again (the renewal job only moves ACTIVE/TRIALING ones; left PAST_DUE it would never move).
    const current = await unit.findById(invoice.subscriptionId);
    if (!current || !['PAST_DUE', 'SUSPENDED', 'UNPAID'].includes(current.status)) return current;
    const trialing = current.trialEndsAt !== null && current.trialEndsAt >= invoice.periodStart;
    return unit.setStatus(current.id, trialing ? 'TRIALING' : 'ACTIVE');
  }
  const moved = await unit.advancePeriod(invoice.subscriptionId, invoice.periodStart, {
    periodStart: invoice.periodStart,
    periodEnd: invoice.periodEnd,
    ...(line ? { priceAmount: line.unitAmount } : {}),
    ...(planVersion !== null ? { planVersion } : {}),
  });
  if (!moved) {
    // Already advanced (a second delivery of the same outcome), or a retry paid a past-due renewal.
    await unit.reactivateLapsed(invoice.subscriptionId);
  }
  return unit.findById(invoice.subscriptionId);
}

/** The renewal job: ends what was canceled at period end, invoices and charges what renews. */
export function createRenewalStep(kit: LifecycleToolkit) {
  const { billing, subscriptions, invoices, charging, logger, now } = kit;

  /** Creates (or finds) the renewal invoice of one due subscription, claimed with SKIP LOCKED. */
  async function invoiceRenewal(subscriptionId: string, at: Date): Promise<LifecycleInvoice | null> {
    return billing.transaction(async (unit) => {
      const subscription = await unit.subscriptions.claimForRenewal(
        subscriptionId,
        new Date(at.getTime() + RENEWAL_LEAD_MS),
      );
      if (!subscription) return null;
      const { plan } = subscription;
      const periodStart = subscription.currentPeriodEnd;
      const periodEnd = kit.addPeriod(
        periodStart,
        plan.interval,
        plan.intervalCount,
        subscription.billingCycleAnchor,
      );
      return invoices.create(unit.invoices, {
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
        taxRateBps: kit.taxRateBps,
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
    const ending = await subscriptions.listEnding(at, RENEWAL_BATCH);
    let ended = 0;
    for (const subscription of ending) {
      const done = await billing.transaction(async (unit) => {
        // Canceled after the next period was already charged (up to 24 h early): the customer keeps the period
        // they paid for; it moves there and ends at its end (cancelAtPeriodEnd stays set).
        const paidRenewal = await unit.subscriptions.findRenewalInvoice(
          subscription.id,
          subscription.currentPeriodEnd,
          ['PAID'],
        );
        if (paidRenewal) {
          await applyRenewal(unit.subscriptions, paidRenewal.id, now);
          return false;
        }
        const endedNow = await unit.subscriptions.end(subscription.id, at);
        if (endedNow) {
          await unit.subscriptions.audit({
            actorUserId: subscription.userId,
            action: 'SUBSCRIPTION_ENDED',
            outcome: 'SUCCESS',
            targetType: 'Subscription',
            targetId: subscription.id,
            at,
          });
        }
        return endedNow;
      });
      if (done) {
        ended += 1;
        await kit.publishSafely(
          kit.eventOf('subscription.canceled', { ...subscription, status: 'CANCELED' }),
        );
      }
    }

    const due = await subscriptions.listDueIds(new Date(at.getTime() + RENEWAL_LEAD_MS), RENEWAL_BATCH);
    for (const id of due) {
      try {
        const invoice = await invoiceRenewal(id, at);
        if (!invoice) continue;
        if (invoice.status === 'PAID') {
          // Free plan or covered by credit: advance now.
          await billing.transaction((unit) => applyRenewal(unit.subscriptions, invoice.id, now));
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

  return { renewDue };
}
