import { allow, isSelfOrAdmin, type PermissionMap } from '@gatehouse/service';

/**
 * Deny by default. The plan catalog is public (pricing pages need it without signing in). A user's
 * subscription is readable by that user and by administrators; the subscription's own fields are only
 * reachable through that guarded field.
 */
export const permissions: PermissionMap = {
  Query: { plans: allow },
  SubscriptionPlan: allow,
  Money: allow,
  PlanLimit: allow,
  User: { '*': isSelfOrAdmin },
  BillingSubscription: allow,
};
