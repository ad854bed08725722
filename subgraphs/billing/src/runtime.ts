import { randomUUID } from 'node:crypto';
import { createEnvelopeCipher, parseEncryptionKeys } from '@gatehouse/crypto';
import type { Prisma, PrismaClient } from '@gatehouse/db';
import { ServiceUnavailableError } from '@gatehouse/errors';
import { BILLING_EVENTS_TOPIC, createEventBus, type EventBus } from '@gatehouse/events';
import { createJobQueue, type JobQueue } from '@gatehouse/jobs';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import { startServiceMail } from '@gatehouse/mail';
import type { RouteHandler, ServiceMetrics } from '@gatehouse/service';
import { createSettingsStore, emailTemplateOverrides } from '@gatehouse/settings';
import { createObjectStorage, type ObjectStorage } from '@gatehouse/storage';
import { createApiKeyRepository, createApiKeyService } from './api-keys';
import type { BillingConfig } from './config';
import {
  createInvoiceRepository,
  createInvoiceService,
  enqueueInvoicePaid,
  registerInvoiceJobs,
} from './invoices';
import { addPeriod, formatMoney, prorate } from './money';
import {
  createWebhookDeliveryService,
  createWebhookDeliveryRepository,
  createWebhookEndpointRepository,
  createWebhookEndpointService,
  isWebhookEventType,
  registerWebhookDeliveryJob,
  startWebhookSweep,
  type WebhookEvent,
} from './outbound-webhooks';
import {
  createChargingService,
  createPaymentMethodRepository,
  createPaymentMethodService,
  createPaymentRepository,
  createStripeWebhookRoute,
  type PaymentDomainEvent,
  type PaymentListener,
  type PaymentNotice,
} from './payments';
import { createPlanAdmin } from './plans/plan-admin';
import { createPlanAdminRepository } from './plans/plan.repository';
import type { BillingServices } from './services/billing-services';
import { createStripeProvider, type PaymentProvider } from './stripe';
import { createSubscriptionLifecycle, type SubscriptionLifecycle } from './subscriptions/lifecycle';
import type { SubscriptionEvent, SubscriptionNotice } from './subscriptions/ports';
import { createUsageRepository, createUsageRoutes, createUsageService } from './usage';

/** Topic of the billing events on the event bus: the gateway's `paymentEvents` feed. */
export { BILLING_EVENTS_TOPIC };

/** One billing event on the bus and to outbound webhooks. `userId` scopes who may see it. */
export interface BillingBusEvent {
  id: string;
  type: string;
  userId: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface CreateBillingServicesOptions {
  prisma: PrismaClient;
  logger: Logger;
  config: BillingConfig;
  /** The process's key/value store (usage counters). */
  kv: KeyValueStore;
  /** Default: from the storage settings (shared with account, which serves the files in development). */
  storage?: ObjectStorage;
  /** Default: from REDIS_URL (in-process without it). */
  events?: EventBus;
  /** Prefix of Redis keys of the job queue (tests isolate themselves with it). */
  redisPrefix?: string;
  /** Clock, for tests. */
  now?: () => Date;
  /** Run the renewal and dunning schedule (default true; tests drive `runDueWork` themselves). */
  schedule?: boolean;
  /** Payments and subscription changes are counted here (the service's `/metrics`). */
  metrics?: ServiceMetrics;
}

export interface BillingRuntime {
  services: BillingServices;
  lifecycle: SubscriptionLifecycle;
  /** `POST /webhooks/stripe` and `POST /billing/usage`. */
  routes: RouteHandler[];
  jobQueue: JobQueue;
  events: EventBus;
  /** One pass of the renewal and dunning jobs (what the schedule runs). */
  runDueWork(): Promise<void>;
  close(): Promise<void>;
}

/** Without STRIPE_SECRET_KEY: every provider call answers SERVICE_UNAVAILABLE, nothing is charged. */
function unconfiguredProvider(): PaymentProvider {
  const refuse = (): never => {
    throw new ServiceUnavailableError('Payments are not configured on this server', {
      details: { reason: 'PAYMENTS_NOT_CONFIGURED' },
    });
  };
  return {
    createCustomer: async () => refuse(),
    attachPaymentMethod: async () => refuse(),
    detachPaymentMethod: async () => refuse(),
    charge: async () => refuse(),
    verifyWebhook: () => refuse(),
  };
}

/**
 * Builds the billing flows and their infrastructure, once per process: the payment provider, invoices (PDFs in
 * object storage, mailed when paid), charging with dunning, the subscription lifecycle with its renewal job,
 * usage quotas, API keys and outbound webhooks. Events go to the event bus (the gateway's live feeds) and to the
 * users' webhook endpoints.
 */
export function createBillingServices(options: CreateBillingServicesOptions): BillingRuntime {
  const { prisma, logger, config, kv } = options;
  const { payments } = config;
  const now = options.now ?? (() => new Date());
  const redisUrl = config.redis.REDIS_URL;
  const jobQueue = createJobQueue({
    ...(redisUrl ? { redisUrl } : {}),
    ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}),
    logger,
  });
  const ownsEvents = options.events === undefined;
  const events =
    options.events ??
    createEventBus({
      ...(redisUrl ? { redisUrl } : {}),
      ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}),
      logger,
    });
  const encryptionKeys = parseEncryptionKeys(config.crypto.ENCRYPTION_KEYS);
  const cipher = createEnvelopeCipher(encryptionKeys);
  // Mail copy overrides (`email.templates.*`), read by the mail worker like identity's and account's.
  const settings = createSettingsStore({
    prisma,
    kv,
    events,
    onCacheError: (err, { key }) => logger.warn({ err, key }, 'settings cache unavailable'),
  });
  const ownsStorage = options.storage === undefined;
  const storage = options.storage ?? createObjectStorage(config.storage);

  const mailLogger = logger.child({ module: 'mail' });
  const mail = startServiceMail({
    prisma,
    jobQueue,
    cipher,
    encryptionKeys,
    config: config.mail,
    storage,
    templateOverrides: emailTemplateOverrides(settings),
    logger: mailLogger,
  });
  const { mailer } = mail;
  const publicUrl = config.mail.PUBLIC_URL;
  const billingPageUrl = `${publicUrl}/account/billing`;

  const provider = payments.STRIPE_SECRET_KEY
    ? createStripeProvider({
        secretKey: payments.STRIPE_SECRET_KEY,
        // Without a webhook secret every delivery fails verification (400): nothing unverified is applied.
        webhookSecret: payments.STRIPE_WEBHOOK_SECRET ?? '',
        ...(payments.STRIPE_API_BASE ? { apiBase: payments.STRIPE_API_BASE } : {}),
      })
    : unconfiguredProvider();

  const invoiceRecords = createInvoiceRepository(prisma);
  const invoices = createInvoiceService({
    invoiceRecords,
    storage,
    logger: logger.child({ module: 'invoices' }),
    seller: { name: 'Gatehouse' },
    now,
  });
  registerInvoiceJobs({
    jobQueue,
    invoiceRecords,
    invoices,
    mailer,
    invoiceUrl: () => billingPageUrl,
    logger: logger.child({ module: 'invoices' }),
  });

  const allowInsecureUrls = payments.WEBHOOKS_ALLOW_INSECURE_URLS;
  const webhookEndpoints = createWebhookEndpointService({
    endpoints: createWebhookEndpointRepository(prisma),
    cipher,
    allowHttp: allowInsecureUrls,
    allowPrivateNetworks: allowInsecureUrls,
  });
  const webhookDeliveryRecords = createWebhookDeliveryRepository(prisma);
  const webhookDeliveries = createWebhookDeliveryService({
    deliveries: webhookDeliveryRecords,
    jobQueue,
    cipher,
    logger: logger.child({ module: 'webhooks' }),
    allowHttp: allowInsecureUrls,
    allowPrivateNetworks: allowInsecureUrls,
  });
  registerWebhookDeliveryJob({ jobQueue, service: webhookDeliveries });

  async function recipientOf(userId: string): Promise<{ email: string; name: string | null } | null> {
    const user = await prisma.user.findUnique({
      where: { id: userId },
      select: { email: true, deletedAt: true, profile: { select: { displayName: true } } },
    });
    if (!user || user.deletedAt) return null;
    return { email: user.email, name: user.profile?.displayName ?? null };
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

  function toWebhookEvent(event: BillingBusEvent): WebhookEvent {
    return {
      id: event.id,
      type: event.type as WebhookEvent['type'],
      userId: event.userId,
      data: event.data as WebhookEvent['data'],
      createdAt: new Date(event.createdAt),
    };
  }

  /** In the payment's transaction: its outbound webhook deliveries commit with it. */
  async function persistPaymentEvent(event: PaymentDomainEvent, tx: Prisma.TransactionClient): Promise<void> {
    if (!isWebhookEventType(event.type)) return;
    await webhookDeliveries.publish(
      toWebhookEvent({
        ...event,
        data: event.data as Record<string, unknown>,
        createdAt: event.createdAt.toISOString(),
      }),
      tx,
    );
  }

  async function publishPayment(event: PaymentDomainEvent): Promise<void> {
    options.metrics?.business.payments.inc({ outcome: event.type.slice('payment.'.length) });
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
  }

  async function publishSubscription(event: SubscriptionEvent): Promise<void> {
    const type =
      event.type === 'subscription.resumed'
        ? 'subscription.updated'
        : event.status === 'SUSPENDED'
          ? 'subscription.suspended'
          : event.type;
    options.metrics?.business.subscriptionEvents.inc({
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
  }

  async function notifyPayment(notice: PaymentNotice): Promise<void> {
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
  }

  async function notifySubscription(notice: SubscriptionNotice): Promise<void> {
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
  }

  // The lifecycle and the charging service need each other: charging reports outcomes to the lifecycle, the
  // lifecycle charges invoices. The listener forwards to the lifecycle, created below (before any payment).
  const listener: PaymentListener = {
    onPaymentSucceeded: (event, tx) => lifecycle.onPaymentSucceeded(event, tx),
    onPaymentFailed: (event, tx) => lifecycle.onPaymentFailed(event, tx),
  };
  const paymentsLogger = logger.child({ module: 'payments' });
  const paymentRecords = createPaymentRepository(prisma);
  const charging = createChargingService({
    payments: paymentRecords,
    provider,
    listener,
    logger: paymentsLogger,
    now,
    publish: publishPayment,
    notify: notifyPayment,
    persistEvent: persistPaymentEvent,
  });
  const paymentMethods = createPaymentMethodService({
    paymentMethods: createPaymentMethodRepository(prisma),
    provider,
    logger: paymentsLogger,
  });
  const lifecycle = createSubscriptionLifecycle({
    prisma,
    invoices,
    charging,
    paymentMethods,
    prorate,
    addPeriod: (start, interval, count, anchor) => addPeriod(start, interval, count, { anchor }),
    taxRateBps: payments.BILLING_TAX_RATE_BPS,
    publish: publishSubscription,
    notify: notifySubscription,
    logger: logger.child({ module: 'subscriptions' }),
    now,
  });

  const usage = createUsageService({
    usageRecords: createUsageRepository(prisma),
    kv,
    logger: logger.child({ module: 'usage' }),
    now,
  });
  const apiKeys = createApiKeyService({
    apiKeys: createApiKeyRepository(prisma),
    logger: logger.child({ module: 'api-keys' }),
    now,
  });

  const routes: RouteHandler[] = [
    createStripeWebhookRoute({
      payments: paymentRecords,
      provider,
      listener,
      logger: paymentsLogger,
      now,
      publish: publishPayment,
      notify: notifyPayment,
      persistEvent: persistPaymentEvent,
    }),
    createUsageRoutes({
      usage,
      apiKeys,
      logger: logger.child({ module: 'usage-routes' }),
      ...(payments.BILLING_SERVICE_TOKEN ? { serviceToken: payments.BILLING_SERVICE_TOKEN } : {}),
    }),
  ];

  // Renewals, then dunning retries, then webhook deliveries whose job was lost. Each is safe to run on every
  // replica at once (rows are claimed with SKIP LOCKED); one pass at a time per process.
  let running: Promise<void> | undefined;
  async function runDueWork(): Promise<void> {
    running ??= (async () => {
      try {
        const renewal = await lifecycle.renewDue();
        const dunning = await charging.retryDuePayments(now());
        if (renewal.renewed + renewal.ended + renewal.failed + dunning.attempted > 0) {
          logger.info({ renewal, dunning }, 'billing jobs ran');
        }
      } catch (err) {
        logger.error({ err }, 'billing jobs failed');
      } finally {
        running = undefined;
      }
    })();
    return running;
  }
  const timer =
    options.schedule === false
      ? undefined
      : setInterval(() => void runDueWork(), payments.BILLING_JOB_INTERVAL_SECONDS * 1000);
  timer?.unref();
  const sweep =
    options.schedule === false
      ? undefined
      : startWebhookSweep({ service: webhookDeliveries, logger: logger.child({ module: 'webhooks' }) });

  const actorFields = (actor: {
    impersonatorUserId?: string | null;
    ip?: string | null;
    userAgent?: string | null;
    requestId?: string | null;
  }) => ({
    impersonatorUserId: actor.impersonatorUserId ?? null,
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
    requestId: actor.requestId ?? null,
  });

  const services: BillingServices = {
    lifecycle,
    planAdmin: createPlanAdmin(createPlanAdminRepository(prisma)),
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
      async add(actor, token) {
        const method = await paymentMethods.add(actor.actorUserId, token, actorFields(actor));
        await retryOpenRenewal(actor.actorUserId, method.id);
        return method;
      },
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

  /**
   * A past-due or suspended subscriber who adds a card is charged for the open renewal at once (not at the next
   * dunning date); a success reactivates the subscription through the payment listener.
   */
  async function retryOpenRenewal(userId: string, paymentMethodId: string): Promise<void> {
    const open = await prisma.invoice.findFirst({
      where: {
        userId,
        status: 'OPEN',
        billingReason: 'SUBSCRIPTION_CYCLE',
        subscription: { status: { in: ['PAST_DUE', 'SUSPENDED'] } },
      },
      orderBy: { createdAt: 'desc' },
      select: { id: true },
    });
    if (!open) return;
    try {
      // With the card just added: the default one is the card that kept failing.
      await charging.chargeInvoice(open.id, { paymentMethodId });
    } catch (err) {
      logger.warn({ err, invoiceId: open.id }, 'retry after a new payment method failed');
    }
  }

  return {
    services,
    lifecycle,
    routes,
    jobQueue,
    events,
    runDueWork,
    async close() {
      if (timer) clearInterval(timer);
      sweep?.stop();
      await running;
      await jobQueue.close();
      await mail.close();
      await settings.close();
      if (ownsEvents) await events.close();
      if (ownsStorage) await storage.close();
    },
  };
}
