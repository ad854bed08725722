import type DataLoader from 'dataloader';
import { loaderByKey } from '@gatehouse/service';
import type { PlanModel, SubscriptionModel } from './models';
import type { PlanRepository } from './plans/plan.repository';
import type { SubscriptionRepository } from './subscriptions/subscription.repository';

export interface Repositories {
  plans: PlanRepository;
  subscriptions: SubscriptionRepository;
}

/** Request-scoped DataLoaders: one query per kind of lookup per request, however many users are resolved. */
export interface Loaders {
  planById: DataLoader<string, PlanModel | null>;
  currentSubscriptionByUserId: DataLoader<string, SubscriptionModel | null>;
}

export function createLoaders(repositories: Repositories): Loaders {
  return {
    planById: loaderByKey<string, PlanModel>(
      (ids) => repositories.plans.findByIds(ids),
      (plan) => plan.id,
    ),
    currentSubscriptionByUserId: loaderByKey<string, SubscriptionModel>(
      (userIds) => repositories.subscriptions.findCurrentForUsers(userIds),
      (subscription) => subscription.userId,
    ),
  };
}
