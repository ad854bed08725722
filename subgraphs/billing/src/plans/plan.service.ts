import type { PlanInterval } from '@gatehouse/db';
import type { Loaders } from '../loaders';
import type { PlanModel } from '../models';
import type { PlanRepository } from './plan.repository';

export interface PlanService {
  /** The public catalog: active plans, cheapest first. */
  catalog(interval?: PlanInterval): Promise<PlanModel[]>;
  /** A plan by id, retired plans included (subscriptions may still be on them). */
  byId(id: string): Promise<PlanModel | null>;
}

/** Per request: binds the request's loaders. */
export function createPlanService(loaders: Loaders, plans: PlanRepository): PlanService {
  return {
    async catalog(interval) {
      const active = await plans.findActive(interval);
      for (const plan of active) loaders.planById.prime(plan.id, plan);
      return active;
    },
    byId: (id) => loaders.planById.load(id),
  };
}
