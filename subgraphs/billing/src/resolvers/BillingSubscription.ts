import { AppError, ErrorCode } from '@gatehouse/errors';
import { BillingErrorCode } from '../error-codes';
import type { BillingSubscriptionResolvers } from '../generated/graphql';

export const BillingSubscription: BillingSubscriptionResolvers = {
  async plan(subscription, _args, { billing, logger }) {
    const plan = await billing.plans.byId(subscription.planId);
    if (!plan) {
      // The foreign key makes this impossible unless the database was edited by hand.
      logger.error(
        { subscriptionId: subscription.id, planId: subscription.planId },
        'Subscription plan missing',
      );
      throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error', {
        details: { reason: BillingErrorCode.PLAN_MISSING },
      });
    }
    return plan;
  },
  price: (subscription) => ({ amount: subscription.priceAmount, currency: subscription.currency }),
  usage: (subscription, _args, { billing }) => billing.usage.quotasOf(subscription),
};
