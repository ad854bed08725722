import { randomUUID } from 'node:crypto';
import { BILLING_EVENTS_TOPIC, type EventBus } from '@gatehouse/events';
import type { JobQueue } from '@gatehouse/jobs';
import type { Logger } from '@gatehouse/logger';
import type { Mailer } from '@gatehouse/mail';
import type { ServiceMetrics } from '@gatehouse/service';
import type { BillingWriteUnit } from '../billing.repository';
import { enqueueInvoicePaid } from '../invoices';
import { formatMoney } from '../money';
import {
  isWebhookEventType,
  type WebhookDeliveryRepository,
  type WebhookDeliveryService,
  type WebhookEvent,
} from '../outbound-webhooks';
import type { PaymentDomainEvent, PaymentNotice } from '../payments';
import type { SubscriptionEvent, SubscriptionNotice } from '../subscriptions/ports';
import type { BillingRecipients } from './billing-recipients';

/** One billing event on the bus and to outbound webhooks. `userId` scopes who may see it. */
export interface BillingBusEvent {
  id: string;
  type: string;
  userId: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface BillingNotifierDeps {
  events: EventBus;
  webhookDeliveries: WebhookDeliveryService;
  webhookDeliveryRecords: Pick<WebhookDeliveryRepository, 'pendingIdsOfEvent'>;
  /** Paid invoices are rendered and mailed by a job. */
  jobQueue: JobQueue;
  mailer: Pick<Mailer, 'send'>;
  recipients: BillingRecipients;
  /** Linked from every mail (update the card, resume the subscription). */
  billingPageUrl: string;
  /** Payments and subscription changes are counted here (the service's `/metrics`). */
  metrics?: ServiceMetrics;
  logger: Logger;
}

/**
 * Where billing's events and notices go: the event bus (the gateway's live feeds), the users' webhook endpoints,
 * and mail. Publishing never throws: the change it announces has committed already.
 */
export interface BillingNotifier {
  /** After commit: a payment event to the bus and to its stored webhook deliveries; a paid invoice's mail job. */
  publishPayment(event: PaymentDomainEvent): Promise<void>;
  /** In the payment's write unit: its outbound webhook deliveries commit with it. */
  persistPaymentEvent(event: PaymentDomainEvent, unit: BillingWriteUnit): Promise<void>;
  notifyPayment(notice: PaymentNotice): Promise<void>;
  publishSubscription(event: SubscriptionEvent): Promise<void>;
  notifySubscription(notice: SubscriptionNotice): Promise<void>;
}

function toWebhookEvent(event: BillingBusEvent): WebhookEvent {
  return {
    id: event.id,
    type: event.type as WebhookEvent['type'],
    userId: event.userId,
    data: event.data as WebhookEvent['data'],
    createdAt: new Date(event.createdAt),
  };
}

export function createBillingNotifier(deps: BillingNotifierDeps): BillingNotifier {
  const { events, webhookDeliveries, webhookDeliveryRecords, jobQueue, mailer, billingPageUrl, logger } =
    deps;

  /** A recipient who can be mailed: null for an unknown or deleted user. */
  async function recipientOf(userId: string): Promise<{ email: string; name: string | null } | null> {
    const recipient = await deps.recipients.find(userId);
    if (!recipient || recipient.deleted) return null;
    return { email: recipient.email, name: recipient.name };
  }

  /**
   * Sends one billing event to the live feed and the user's webhook endpoints. Never throws. `stored`: the
   * deliveries were written in the event's own transaction (payments): only their jobs are queued here, and the
   * delivery sweep sends them even if this process dies first.
   */
  async function emit(event: BillingBusEvent, stored = false): Promise<void> {
    await events.publish(BILLING_EVENTS_TOPIC, event).catch((err: unknown) => {
      logger.warn({ err, type: event.type }, 'billing event not published on the bus');
    });
    if (!isWebhookEventType(event.type)) return;
    try {
      if (stored) {
        await webhookDeliveries.enqueue(await webhookDeliveryRecords.pendingIdsOfEvent(event.id));
      } else {
        await webhookDeliveries.publish(toWebhookEvent(event));
      }
    } catch (err) {
      logger.error({ err, type: event.type, id: event.id }, 'webhook deliveries not recorded');
    }
  }

  return {
    async persistPaymentEvent(event, unit) {
      if (!isWebhookEventType(event.type)) return;
      await webhookDeliveries.publish(
        toWebhookEvent({
          ...event,
          data: event.data as Record<string, unknown>,
          createdAt: event.createdAt.toISOString(),
        }),
        unit.webhookDeliveries,
      );
    },

    async publishPayment(event) {
      deps.metrics?.business.payments.inc({ outcome: event.type.slice('payment.'.length) });
      await emit(
        {
          id: event.id,
          type: event.type,
          userId: event.userId,
          data: event.data as Record<string, unknown>,
          createdAt: event.createdAt.toISOString(),
        },
        true,
      );
      // A paid invoice gets its PDF rendered and mailed (one job per invoice).
      const invoiceId = (event.data as { invoiceId?: unknown }).invoiceId;
      if (event.type === 'payment.succeeded' && typeof invoiceId === 'string') {
        await enqueueInvoicePaid(jobQueue, invoiceId).catch((err: unknown) => {
          logger.error({ err, invoiceId }, 'invoice mail not queued');
        });
      }
    },

    async publishSubscription(event) {
      const type =
        event.type === 'subscription.resumed'
          ? 'subscription.updated'
          : event.status === 'SUSPENDED'
            ? 'subscription.suspended'
            : event.type;
      deps.metrics?.business.subscriptionEvents.inc({
        event: event.status === 'SUSPENDED' ? 'suspended' : event.type.slice('subscription.'.length),
      });
      await emit({
        // Unique per change (two changes can share a clock instant); receivers de-duplicate on it.
        id: `${type}:${event.subscriptionId}:${randomUUID()}`,
        type,
        userId: event.userId,
        data: { subscriptionId: event.subscriptionId, status: event.status, planId: event.planId },
        createdAt: event.at.toISOString(),
      });
    },

    async notifyPayment(notice) {
      const recipient = await recipientOf(notice.userId);
      if (!recipient) return;
      await mailer.send({
        to: recipient.email,
        userId: notice.userId,
        template: 'payment-failed',
        idempotencyKey: `payment-failed:${notice.paymentId}:${notice.attempt}`,
        data: {
          ...(recipient.name ? { name: recipient.name } : {}),
          amount: formatMoney(notice.amount, notice.currency),
          attempt: notice.attempt,
          nextAttemptAt: notice.nextAttemptAt,
          reason: notice.failureReason.replace(/_/g, ' '),
          updatePaymentUrl: billingPageUrl,
        },
      });
    },

    async notifySubscription(notice) {
      const recipient = await recipientOf(notice.userId);
      if (!recipient) return;
      const name = recipient.name ? { name: recipient.name } : {};
      if (notice.template === 'subscription-canceled') {
        await mailer.send({
          to: recipient.email,
          userId: notice.userId,
          template: 'subscription-canceled',
          data: {
            ...name,
            planName: notice.planName,
            accessUntil: notice.accessUntil,
            resumeUrl: billingPageUrl,
          },
        });
      } else {
        await mailer.send({
          to: recipient.email,
          userId: notice.userId,
          template: 'subscription-suspended',
          data: { ...name, planName: notice.planName, updatePaymentUrl: billingPageUrl },
        });
      }
    },
  };
}
