import type { BaseContext, ClientInfo, EffectivePermissions } from '@gatehouse/service';
import { AuthenticationError } from '@gatehouse/errors';
import type { Loaders } from './loaders';
import type { BillingServices } from './services/billing-services';
import type { PlanService } from './services/plan.service';
import type { SubscriptionService } from './services/subscription.service';
import type { BillingActor } from './subscriptions/lifecycle';

/** Per-request GraphQL context of the billing subgraph. */
export interface Context extends BaseContext {
  loaders: Loaders;
  plans: PlanService;
  subscriptions: SubscriptionService;
  /** The billing flows (process-wide). */
  billing: BillingServices;
  /** Where the request came from, for the audit trail. */
  client: ClientInfo;
  /** Live permissions, so a removed `billing:manage` stops working at once. */
  effectivePermissions?: EffectivePermissions;
}

/**
 * The signed-in viewer as the actor of a billing change. Shield rules let only authenticated callers reach the
 * fields that call this; the check here keeps a misconfigured rule from turning into a null dereference.
 */
export function actorOf(ctx: Context): BillingActor {
  const { viewer, client } = ctx;
  if (!viewer) throw new AuthenticationError();
  return {
    actorUserId: viewer.userId,
    impersonatorUserId: viewer.impersonatorUserId ?? null,
    ip: client.ip,
    userAgent: client.userAgent,
    requestId: client.requestId,
  };
}
