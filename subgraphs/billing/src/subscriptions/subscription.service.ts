import type { Loaders } from '../loaders';
import type { SubscriptionModel } from '../models';

export interface SubscriptionService {
  /**
   * The user's current subscription, `null` when none. Who may read it is decided by the permission rules
   * on `User.subscription`, before this runs.
   */
  currentOf(userId: string): Promise<SubscriptionModel | null>;
}

/** Per request: binds the request's loaders. */
export function createSubscriptionService(loaders: Loaders): SubscriptionService {
  return {
    currentOf: (userId) => loaders.currentSubscriptionByUserId.load(userId),
  };
}
