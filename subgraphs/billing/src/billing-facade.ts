import type { ApiKeyService } from './api-keys';
import type { InvoiceService } from './invoices';
import type {
  ApiKeyModel,
  CreatedApiKeyModel,
  CreatedWebhookEndpointModel,
  InvoiceModel,
  PaymentMethodModel,
  SubscriptionModel,
  WebhookDeliveryModel,
  WebhookEndpointModel,
} from './models';
import type { WebhookDeliveryService, WebhookEndpointService } from './outbound-webhooks';
import type { PaymentMethodService } from './payments';
import type { PlanAdmin } from './plans';
import type { BillingActor, SubscriptionLifecycle } from './subscriptions';
import type { UsageService } from './usage';

/** A page of a newest-first list, in the Relay-ish shape the SDL uses. */
export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface PageArgs {
  first: number;
  after?: string | null;
}

export interface UsageQuotaView {
  key: string;
  used: number;
  limit: number | null;
  percent: number | null;
  resetsAt: Date;
}

export interface UsageReportView {
  metric: string;
  used: number;
  limit: number | null;
  remaining: number | null;
}

export interface WebhookEndpointInputView {
  url?: string | null;
  events?: readonly string[] | null;
  description?: string | null;
  active?: boolean | null;
}

/**
 * The billing flows as the GraphQL resolvers see them, built once per process by {@link createBillingFacade}
 * (composed in runtime.ts). Every method takes the acting user explicitly; ownership is checked inside, so a resolver cannot
 * forget it.
 */
export interface BillingServices {
  lifecycle: SubscriptionLifecycle;
  planAdmin: PlanAdmin;
  invoices: {
    list(userId: string, args: PageArgs & { status?: string | null }): Promise<Page<InvoiceModel>>;
    /** Null when it does not exist or belongs to someone else. */
    byIdForUser(userId: string, id: string): Promise<InvoiceModel | null>;
    /** A short-lived signed link, or null while the PDF is not rendered yet. */
    downloadUrl(userId: string, invoiceId: string): Promise<string | null>;
  };
  paymentMethods: {
    list(userId: string): Promise<PaymentMethodModel[]>;
    add(actor: BillingActor, token: string): Promise<PaymentMethodModel>;
    setDefault(actor: BillingActor, id: string): Promise<PaymentMethodModel>;
    remove(actor: BillingActor, id: string): Promise<void>;
  };
  usage: {
    record(
      actor: BillingActor,
      input: { metric: string; quantity: number; idempotencyKey?: string | null },
    ): Promise<UsageReportView>;
    quotasOf(subscription: SubscriptionModel): Promise<UsageQuotaView[]>;
  };
  apiKeys: {
    create(
      actor: BillingActor,
      input: { name: string; scopes?: readonly string[] | null },
    ): Promise<CreatedApiKeyModel>;
    list(userId: string): Promise<ApiKeyModel[]>;
    revoke(actor: BillingActor, id: string): Promise<ApiKeyModel>;
  };
  webhooks: {
    list(userId: string): Promise<WebhookEndpointModel[]>;
    create(
      actor: BillingActor,
      input: WebhookEndpointInputView & { url: string },
    ): Promise<CreatedWebhookEndpointModel>;
    update(actor: BillingActor, id: string, input: WebhookEndpointInputView): Promise<WebhookEndpointModel>;
    remove(actor: BillingActor, id: string): Promise<void>;
    rotateSecret(actor: BillingActor, id: string): Promise<CreatedWebhookEndpointModel>;
    /** The owner's endpoint, or any endpoint when `anyEndpoint` (billing:manage). NOT_FOUND otherwise. */
    deliveries(
      userId: string,
      endpointId: string,
      args: PageArgs & { status?: string | null },
      anyEndpoint: boolean,
    ): Promise<Page<WebhookDeliveryModel>>;
    replay(actor: BillingActor, deliveryId: string): Promise<WebhookDeliveryModel>;
  };
}

/** The services the facade adapts to the resolvers' shapes. */
export interface BillingFacadeDeps {
  lifecycle: SubscriptionLifecycle;
  planAdmin: PlanAdmin;
  invoices: InvoiceService;
  paymentMethods: PaymentMethodService;
  usage: UsageService;
  apiKeys: ApiKeyService;
  webhookEndpoints: WebhookEndpointService;
  webhookDeliveries: WebhookDeliveryService;
}

/** The audit fields of an actor, beside the acting user (each service takes the user id on its own). */
const actorFields = (actor: BillingActor) => ({
  impersonatorUserId: actor.impersonatorUserId ?? null,
  ip: actor.ip ?? null,
  userAgent: actor.userAgent ?? null,
  requestId: actor.requestId ?? null,
});

/** Adapts the feature services to {@link BillingServices}: argument shapes only, no rules of its own. */
export function createBillingFacade(deps: BillingFacadeDeps): BillingServices {
  const { invoices, paymentMethods, usage, apiKeys, webhookEndpoints, webhookDeliveries } = deps;
  return {
    lifecycle: deps.lifecycle,
    planAdmin: deps.planAdmin,
    invoices: {
      list: (userId, args) =>
        invoices.list(userId, {
          first: args.first,
          after: args.after ?? null,
          status: (args.status as 'OPEN' | null | undefined) ?? null,
        }),
      byIdForUser: (userId, id) => invoices.byIdForUser(userId, id),
      async downloadUrl(userId, invoiceId) {
        return (await invoices.downloadUrl(userId, invoiceId)).url;
      },
    },
    paymentMethods: {
      list: (userId) => paymentMethods.list(userId),
      add: (actor, token) => paymentMethods.add(actor.actorUserId, token, actorFields(actor)),
      setDefault: (actor, id) => paymentMethods.setDefault(actor.actorUserId, id, actorFields(actor)),
      async remove(actor, id) {
        await paymentMethods.remove(actor.actorUserId, id, actorFields(actor));
      },
    },
    usage: {
      record: (actor, input) =>
        usage.recordUsage({
          userId: actor.actorUserId,
          metric: input.metric,
          quantity: input.quantity,
          ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
        }),
      quotasOf: (subscription) => usage.usageFor(subscription.id),
    },
    apiKeys: {
      async create(actor, input) {
        const created = await apiKeys.create(
          actor.actorUserId,
          { name: input.name, ...(input.scopes ? { scopes: [...input.scopes] } : {}) },
          { actorUserId: actor.actorUserId, ...actorFields(actor) },
        );
        return { apiKey: created.record, key: created.key };
      },
      list: (userId) => apiKeys.list(userId, { includeRevoked: true }),
      revoke: (actor, id) =>
        apiKeys.revoke(actor.actorUserId, id, { actorUserId: actor.actorUserId, ...actorFields(actor) }),
    },
    webhooks: {
      list: (userId) => webhookEndpoints.list({ userId }),
      async create(actor, input) {
        const created = await webhookEndpoints.create(
          { userId: actor.actorUserId },
          {
            url: input.url,
            events: [...(input.events ?? [])],
            ...(input.description ? { description: input.description } : {}),
          },
          { actorUserId: actor.actorUserId, ...actorFields(actor) },
        );
        return { endpoint: created.endpoint, secret: created.secret };
      },
      update: (actor, id, input) =>
        webhookEndpoints.update(
          { userId: actor.actorUserId },
          id,
          {
            ...(input.url !== null && input.url !== undefined ? { url: input.url } : {}),
            ...(input.events !== null && input.events !== undefined ? { events: [...input.events] } : {}),
            ...(input.description !== undefined ? { description: input.description } : {}),
            ...(input.active !== null && input.active !== undefined ? { active: input.active } : {}),
          },
          { actorUserId: actor.actorUserId, ...actorFields(actor) },
        ),
      async remove(actor, id) {
        await webhookEndpoints.delete({ userId: actor.actorUserId }, id, {
          actorUserId: actor.actorUserId,
          ...actorFields(actor),
        });
      },
      async rotateSecret(actor, id) {
        const rotated = await webhookEndpoints.rotateSecret({ userId: actor.actorUserId }, id, {
          actorUserId: actor.actorUserId,
          ...actorFields(actor),
        });
        return { endpoint: rotated.endpoint, secret: rotated.secret };
      },
      deliveries: (userId, endpointId, args, anyEndpoint) =>
        webhookDeliveries.deliveries(anyEndpoint ? { admin: true } : { userId }, endpointId, {
          first: args.first,
          after: args.after ?? null,
          ...(args.status ? { status: args.status as 'PENDING' } : {}),
        }),
      replay: (actor, deliveryId) =>
        webhookDeliveries.replay(deliveryId, { actorUserId: actor.actorUserId, ...actorFields(actor) }),
    },
  };
}
