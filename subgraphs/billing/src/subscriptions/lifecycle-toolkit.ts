import { AppError, ErrorCode, NotFoundError } from '@gatehouse/errors';
import type { Logger } from '@gatehouse/logger';
import type { BillingStore } from '../billing.repository';
import { BillingErrorCode } from '../error-codes';
import { SubscriptionErrorCode } from './error-codes';
import type { SubscriptionModel } from '../models';
import type { BillingActor, SubscriptionLifecycleOptions } from './lifecycle-types';
import type {
  LifecycleCharging,
  LifecycleInvoices,
  LifecyclePaymentMethods,
  SubscriptionEvent,
  SubscriptionNotice,
} from './ports';
import type { SubscriptionPlanRow, SubscriptionRepository } from './subscription.repository';

/** What every lifecycle step uses: the stores, the collaborators, the clock, and the safe publish and notify. */
export interface LifecycleToolkit {
  billing: BillingStore;
  subscriptions: SubscriptionRepository;
  invoices: LifecycleInvoices;
  charging: LifecycleCharging;
  paymentMethods: LifecyclePaymentMethods;
  prorate: SubscriptionLifecycleOptions['prorate'];
  addPeriod: SubscriptionLifecycleOptions['addPeriod'];
  taxRateBps: number;
  logger: Logger;
  now: () => Date;
  /** Publishes after commit; a failure is logged, never undoes the committed change. */
  publishSafely(event: SubscriptionEvent): Promise<void>;
  /** Sends a notice after commit; a failure is logged, never undoes the committed change. */
  notifySafely(notice: SubscriptionNotice): Promise<void>;
  eventOf(type: SubscriptionEvent['type'], subscription: SubscriptionModel): SubscriptionEvent;
  /** The user's current subscription, NOT_FOUND without one. */
  requireCurrent(
    source: { findCurrent(userId: string): Promise<SubscriptionModel | null> },
    userId: string,
  ): Promise<SubscriptionModel>;
  /** An active plan, NOT_FOUND otherwise (retired plans cannot be subscribed to). */
  activePlan(planId: string): Promise<SubscriptionPlanRow>;
}

export function createLifecycleToolkit(options: SubscriptionLifecycleOptions): LifecycleToolkit {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  return {
    billing: options.billing,
    subscriptions: options.subscriptions,
    invoices: options.invoices,
    charging: options.charging,
    paymentMethods: options.paymentMethods,
    prorate: options.prorate,
    addPeriod: options.addPeriod,
    taxRateBps: options.taxRateBps ?? 0,
    logger,
    now,
    async publishSafely(event) {
      try {
        await options.publish(event);
      } catch (err) {
        logger.warn({ err, type: event.type }, 'subscription event not published');
      }
    },
    async notifySafely(notice) {
      try {
        await options.notify(notice);
      } catch (err) {
        logger.warn({ err, template: notice.template }, 'subscription notice not sent');
      }
    },
    eventOf: (type, subscription) => ({
      type,
      userId: subscription.userId,
      subscriptionId: subscription.id,
      status: subscription.status,
      planId: subscription.planId,
      at: now(),
    }),
    async requireCurrent(source, userId) {
      const subscription = await source.findCurrent(userId);
      if (!subscription) {
        throw new NotFoundError('You have no subscription', {
          details: { reason: SubscriptionErrorCode.NO_SUBSCRIPTION },
        });
      }
      return subscription;
    },
    async activePlan(planId) {
      const plan = await options.subscriptions.findPlan(planId);
      if (!plan || !plan.active) {
        throw new NotFoundError('Plan not found', { details: { reason: BillingErrorCode.PLAN_NOT_FOUND } });
      }
      return plan;
    },
  };
}

export function paymentFailed(reason: string | null | undefined): AppError {
  return new AppError(ErrorCode.PAYMENT_FAILED, 'The payment was declined; nothing was changed.', {
    details: { reason: SubscriptionErrorCode.PAYMENT_FAILED, ...(reason ? { providerReason: reason } : {}) },
  });
}

export function auditFields(actor: BillingActor) {
  return {
    actorUserId: actor.actorUserId,
    impersonatorUserId: actor.impersonatorUserId ?? null,
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
    requestId: actor.requestId ?? null,
  };
}

export function describePeriod(start: Date, end: Date): string {
  const day = (date: Date) => date.toISOString().slice(0, 10);
  return `${day(start)} to ${day(end)}`;
}
