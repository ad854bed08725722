import type { BaseContext, ClientInfo, EffectivePermissions } from '@gatehouse/service';
import { AuthenticationError } from '@gatehouse/errors';
import type { BillingServices } from './billing-facade';
import type { PlanService } from './plans';
import type { BillingActor, SubscriptionService } from './subscriptions';

/**
 * Billing as one request sees it: the process-wide flows, plus the catalog and subscription reads bound to the
 * request's DataLoaders.
 */
export interface RequestBilling extends BillingServices {
  plans: PlanService;
  subscriptions: SubscriptionService;
}

/** Per-request GraphQL context of the billing subgraph. */
export interface Context extends BaseContext {
  /** The one door to billing for resolvers. */
  billing: RequestBilling;
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
