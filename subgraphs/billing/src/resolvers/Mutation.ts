import { actorOf } from '../context';
import type { MutationResolvers } from '../generated/graphql';

export const Mutation: MutationResolvers = {
  createPlan: (_parent, { input }, ctx) => ctx.billing.planAdmin.create(actorOf(ctx), input),
  updatePlan: (_parent, { id, input }, ctx) => ctx.billing.planAdmin.update(actorOf(ctx), id, input),
  archivePlan: (_parent, { id }, ctx) => ctx.billing.planAdmin.archive(actorOf(ctx), id),

  subscribe: (_parent, { planId, paymentMethodId }, ctx) =>
    ctx.billing.lifecycle.subscribe(actorOf(ctx), planId, paymentMethodId ?? null),
  async changePlan(_parent, { planId }, ctx) {
    const viewer = actorOf(ctx);
    const result = await ctx.billing.lifecycle.changePlan(viewer, planId);
    const invoice = result.invoiceId
      ? await ctx.billing.invoices.byIdForUser(viewer.actorUserId, result.invoiceId)
      : null;
    return { subscription: result.subscription, invoice, creditAmount: result.creditAmount };
  },
  cancelSubscription: (_parent, _args, ctx) => ctx.billing.lifecycle.cancel(actorOf(ctx)),
  resumeSubscription: (_parent, _args, ctx) => ctx.billing.lifecycle.resume(actorOf(ctx)),

  recordUsage: (_parent, { metric, quantity, idempotencyKey }, ctx) =>
    ctx.billing.usage.record(actorOf(ctx), { metric, quantity, idempotencyKey: idempotencyKey ?? null }),

  addPaymentMethod: (_parent, { paymentMethodToken }, ctx) =>
    ctx.billing.paymentMethods.add(actorOf(ctx), paymentMethodToken),
  setDefaultPaymentMethod: (_parent, { id }, ctx) => ctx.billing.paymentMethods.setDefault(actorOf(ctx), id),
  async removePaymentMethod(_parent, { id }, ctx) {
    await ctx.billing.paymentMethods.remove(actorOf(ctx), id);
    return true;
  },

  createApiKey: (_parent, { name, scopes }, ctx) =>
    ctx.billing.apiKeys.create(actorOf(ctx), { name, scopes: scopes ?? null }),
  revokeApiKey: (_parent, { id }, ctx) => ctx.billing.apiKeys.revoke(actorOf(ctx), id),

  createWebhookEndpoint: (_parent, { input }, ctx) => ctx.billing.webhooks.create(actorOf(ctx), input),
  updateWebhookEndpoint: (_parent, { id, input }, ctx) =>
    ctx.billing.webhooks.update(actorOf(ctx), id, input),
  async deleteWebhookEndpoint(_parent, { id }, ctx) {
    await ctx.billing.webhooks.remove(actorOf(ctx), id);
    return true;
  },
  rotateWebhookSecret: (_parent, { id }, ctx) => ctx.billing.webhooks.rotateSecret(actorOf(ctx), id),
  replayWebhookDelivery: (_parent, { id }, ctx) => ctx.billing.webhooks.replay(actorOf(ctx), id),
};
