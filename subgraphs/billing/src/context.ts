import type { BaseContext } from '@gatehouse/service';
import type { Loaders } from './loaders';
import type { PlanService } from './services/plan.service';
import type { SubscriptionService } from './services/subscription.service';

/** Per-request GraphQL context of the billing subgraph. */
export interface Context extends BaseContext {
  loaders: Loaders;
  plans: PlanService;
  subscriptions: SubscriptionService;
}
