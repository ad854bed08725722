import { viewerPermissions } from '@gatehouse/service';
import type { QueryResolvers } from '../generated/graphql';

/** Lists are capped so one request cannot ask for everything at once. */
export const MAX_PAGE_SIZE = 100;
const pageSize = (first: number | null | undefined) => Math.min(Math.max(first ?? 20, 1), MAX_PAGE_SIZE);

export const Query: QueryResolvers = {
  plans: (_parent, { interval }, { billing }) => billing.plans.catalog(interval ?? undefined),
  mySubscription: (_parent, _args, { viewer, billing }) =>
    viewer ? billing.subscriptions.currentOf(viewer.userId) : null,
  myPaymentMethods: (_parent, _args, { viewer, billing }) =>
    viewer ? billing.paymentMethods.list(viewer.userId) : [],
  myInvoices: (_parent, { first, after, status }, { viewer, billing }) =>
    billing.invoices.list(viewer!.userId, {
      first: pageSize(first),
      after: after ?? null,
      status: status ?? null,
    }),
  invoice: (_parent, { id }, { viewer, billing }) => billing.invoices.byIdForUser(viewer!.userId, id),
  myApiKeys: (_parent, _args, { viewer, billing }) => billing.apiKeys.list(viewer!.userId),
  myWebhookEndpoints: (_parent, _args, { viewer, billing }) => billing.webhooks.list(viewer!.userId),
  async webhookDeliveries(_parent, { endpointId, first, after, status }, ctx) {
    const anyEndpoint = (await viewerPermissions(ctx)).has('billing:manage');
    return ctx.billing.webhooks.deliveries(
      ctx.viewer!.userId,
      endpointId,
      { first: pageSize(first), after: after ?? null, status: status ?? null },
      anyEndpoint,
    );
  },
};
