import type {
  ApiKeyModel,
  CreatedApiKeyModel,
  CreatedWebhookEndpointModel,
  InvoiceModel,
  PaymentMethodModel,
  SubscriptionModel,
  WebhookDeliveryModel,
  WebhookEndpointModel,
} from '../models';
import type { PlanAdmin } from '../plans/plan-admin';
import type { BillingActor, SubscriptionLifecycle } from '../subscriptions/lifecycle';

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
 * The billing flows as the GraphQL resolvers see them, built once per process by `createBillingServices`
 * (runtime.ts). Every method takes the acting user explicitly; ownership is checked inside, so a resolver cannot
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
