import {
  allow,
  and,
  hasPermission,
  isAuthenticated,
  isSelf,
  notImpersonating,
  or,
  type PermissionMap,
} from '@gatehouse/service';

/** Plans, and any user's billing data (`billing:read` reads, `billing:manage` changes). */
const managesBilling = hasPermission('billing:manage');
const readsBilling = or(hasPermission('billing:read'), managesBilling);

/**
 * Deny by default. The plan catalog is public (pricing pages need it without signing in). Everything else is the
 * viewer's own: the `my*` fields and the mutations act on the signed-in user only, and every service checks
 * ownership again, so there is no argument that could name someone else's subscription, invoice or key.
 * Permission rules read live permissions, so a removed `billing:manage` stops working at once.
 *
 * Impersonation: an administrator acting as a user may look, not spend — no subscribing, plan changes, payment
 * methods, API keys, webhook secrets or usage under an impersonation token. The service kit refuses every mutation
 * to such a token (none here is `allowedWhileImpersonating`); `ownMoney` says so again where money is at stake.
 */
const ownMoney = notImpersonating;

export const permissions: PermissionMap = {
  Query: {
    plans: allow,
    mySubscription: isAuthenticated,
    myPaymentMethods: isAuthenticated,
    myInvoices: isAuthenticated,
    invoice: isAuthenticated,
    myApiKeys: isAuthenticated,
    myWebhookEndpoints: isAuthenticated,
    // The owner's endpoint, or any endpoint for `billing:manage` (decided in the service, NOT_FOUND otherwise).
    webhookDeliveries: isAuthenticated,
  },
  Mutation: {
    createPlan: and(notImpersonating, managesBilling),
    updatePlan: and(notImpersonating, managesBilling),
    archivePlan: and(notImpersonating, managesBilling),
    subscribe: ownMoney,
    changePlan: ownMoney,
    cancelSubscription: ownMoney,
    resumeSubscription: ownMoney,
    recordUsage: isAuthenticated,
    addPaymentMethod: ownMoney,
    setDefaultPaymentMethod: ownMoney,
    removePaymentMethod: ownMoney,
    createApiKey: ownMoney,
    revokeApiKey: ownMoney,
    createWebhookEndpoint: ownMoney,
    updateWebhookEndpoint: ownMoney,
    deleteWebhookEndpoint: ownMoney,
    rotateWebhookSecret: ownMoney,
    replayWebhookDelivery: and(notImpersonating, managesBilling),
  },
  // A user's subscription: the user and whoever may read any user's billing.
  User: { '*': or(isSelf, readsBilling) },
  SubscriptionPlan: allow,
  Money: allow,
  PlanLimit: allow,
  // Reachable only through the guarded fields above.
  BillingSubscription: allow,
  UsageQuota: allow,
  UsageReport: allow,
  PaymentMethod: allow,
  Invoice: allow,
  InvoiceLine: allow,
  InvoiceConnection: allow,
  InvoiceEdge: allow,
  InvoicePageInfo: allow,
  PlanChange: allow,
  ApiKey: allow,
  CreatedApiKey: allow,
  WebhookEndpoint: allow,
  CreatedWebhookEndpoint: allow,
  WebhookDelivery: allow,
  WebhookDeliveryEdge: allow,
  WebhookDeliveryConnection: allow,
};
