import type { PlanInterval, SubscriptionStatus } from '@gatehouse/db';
import type { ApiKeyRecord } from './api-keys';
import type { InvoiceLineRow, InvoiceRow } from './invoices/invoice.types';
import type { WebhookDeliveryView, WebhookEndpointView } from './outbound-webhooks';
import type { PaymentMethodView } from './payments';

/** A user as this subgraph knows it: only the key. Identity owns the user itself. */
export interface UserReference {
  id: string;
}

export interface PlanLimitModel {
  key: string;
  /** `null` means unlimited. */
  value: number | null;
}

export interface PlanModel {
  id: string;
  code: string;
  name: string;
  description: string | null;
  /** Minor units of `currency`. */
  priceAmount: number;
  currency: string;
  interval: PlanInterval;
  intervalCount: number;
  trialDays: number;
  features: string[];
  limits: PlanLimitModel[];
  version: number;
  active: boolean;
}

export interface SubscriptionModel {
  id: string;
  userId: string;
  planId: string;
  status: SubscriptionStatus;
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
  cancelAtPeriodEnd: boolean;
  canceledAt: Date | null;
  trialEndsAt: Date | null;
  /** Price of the current period (locked at its start), minor units of `currency`. */
  priceAmount: number;
  currency: string;
}

/** As the invoice service hands them out (lines included). */
export type InvoiceModel = InvoiceRow;
export type InvoiceLineModel = InvoiceLineRow & { currency: string };
export type PaymentMethodModel = PaymentMethodView;
/** The secret's hash stays on the server: the view has no field for it. */
export type ApiKeyModel = ApiKeyRecord;
/** The signing secret stays on the server (shown once by create/rotate). */
export type WebhookEndpointModel = WebhookEndpointView;
export type WebhookDeliveryModel = WebhookDeliveryView;

export interface PlanChangeModel {
  subscription: SubscriptionModel;
  invoice: InvoiceModel | null;
  /** Credit added to the balance (downgrade), minor units of the subscription's currency. */
  creditAmount: number;
}

export interface CreatedApiKeyModel {
  apiKey: ApiKeyModel;
  key: string;
}

export interface CreatedWebhookEndpointModel {
  endpoint: WebhookEndpointModel;
  secret: string;
}
