import type { SubscriptionPlanResolvers } from '../generated/graphql';

export const SubscriptionPlan: SubscriptionPlanResolvers = {
  price: (plan) => ({ amount: plan.priceAmount, currency: plan.currency }),
};
