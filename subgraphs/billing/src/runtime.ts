import type { PrismaClient } from '@gatehouse/db';
import { BILLING_EVENTS_TOPIC, type EventBus } from '@gatehouse/events';
import type { JobQueue } from '@gatehouse/jobs';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import type { RouteHandler, ServiceKit, ServiceMetrics } from '@gatehouse/service';
import { createApiKeyRepository, createApiKeyService } from './api-keys';
import { createBillingFacade, type BillingServices } from './billing-facade';
import { createBillingStore } from './billing.repository';
import type { BillingConfig } from './config';
import { createInvoiceRepository, createInvoiceService, registerInvoiceJobs } from './invoices';
import { addPeriod, prorate } from './money';
import { createBillingNotifier, createBillingRecipientRepository } from './notifications';
import {
  createWebhookDeliveryService,
  createWebhookDeliveryRepository,
  createWebhookEndpointRepository,
  createWebhookEndpointService,
  registerWebhookDeliveryJob,
  startWebhookSweep,
} from './outbound-webhooks';
import {
  createChargingService,
  createPaymentMethodRepository,
  createPaymentMethodService,
  createPaymentRepository,
  createStripeWebhookRoute,
  type PaymentListener,
} from './payments';
import { createPlanAdmin, createPlanAdminRepository } from './plans';
import { createStripeProvider, unconfiguredProvider } from './stripe';
import {
  createSubscriptionLifecycle,
  createSubscriptionRepository,
  type SubscriptionLifecycle,
} from './subscriptions';
import { createUsageRepository, createUsageRoutes, createUsageService } from './usage';

/** Topic of the billing events on the event bus: the gateway's `paymentEvents` feed. */
export { BILLING_EVENTS_TOPIC };
export type { BillingBusEvent } from './notifications';

export interface CreateBillingServicesOptions {
  prisma: PrismaClient;
  logger: Logger;
  config: BillingConfig;
  /** The process's key/value store (usage counters). */
  kv: KeyValueStore;
  /**
   * The process's bus (the gateway's live feeds), queue, storage (invoice PDFs; shared with account, which serves
   * the files in development), cipher and mail (`runtime.kit`). The caller closes it.
   */
  kit: Pick<ServiceKit, 'events' | 'jobQueue' | 'storage' | 'cipher' | 'mail'>;
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

/**
 * Builds the billing flows and their infrastructure, once per process: the payment provider, invoices (PDFs in
 * object storage, mailed when paid), charging with dunning, the subscription lifecycle with its renewal job,
 * usage quotas, API keys and outbound webhooks. Events go to the event bus (the gateway's live feeds) and to the
 * users' webhook endpoints (notifications/). Composition only: the rules live in the feature folders.
 */
export function createBillingServices(options: CreateBillingServicesOptions): BillingRuntime {
  const { prisma, logger, config, kv } = options;
  const { payments } = config;
  const now = options.now ?? (() => new Date());
  const { events, jobQueue, storage, cipher, mail } = options.kit;
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

  const recipients = createBillingRecipientRepository(prisma);
  const invoices = createInvoiceService({
    invoiceRecords: createInvoiceRepository(prisma),
    recipients,
    storage,
    logger: logger.child({ module: 'invoices' }),
    seller: { name: 'Gatehouse' },
    now,
  });
  registerInvoiceJobs({
    jobQueue,
    recipients,
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

  const notifier = createBillingNotifier({
    events,
    webhookDeliveries,
    webhookDeliveryRecords,
    jobQueue,
    mailer,
    recipients,
    billingPageUrl,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    logger,
  });

  // The lifecycle and the charging service need each other: charging reports outcomes to the lifecycle, the
  // lifecycle charges invoices. The listener forwards to the lifecycle, created below (before any payment).
  const listener: PaymentListener = {
    onPaymentSucceeded: (event, unit) => lifecycle.onPaymentSucceeded(event, unit),
    onPaymentFailed: (event, unit) => lifecycle.onPaymentFailed(event, unit),
  };
  const paymentsLogger = logger.child({ module: 'payments' });
  const billingStore = createBillingStore(prisma);
  const charging = createChargingService({
    billing: billingStore,
    payments: createPaymentRepository(prisma),
    provider,
    listener,
    logger: paymentsLogger,
    now,
    publish: notifier.publishPayment,
    notify: notifier.notifyPayment,
    persistEvent: notifier.persistPaymentEvent,
  });
  const paymentMethods = createPaymentMethodService({
    paymentMethods: createPaymentMethodRepository(prisma),
    recipients,
    provider,
    logger: paymentsLogger,
    charging,
  });
  const lifecycle = createSubscriptionLifecycle({
    billing: billingStore,
    subscriptions: createSubscriptionRepository(prisma),
    invoices,
    charging,
    paymentMethods,
    prorate,
    addPeriod: (start, interval, count, anchor) => addPeriod(start, interval, count, { anchor }),
    taxRateBps: payments.BILLING_TAX_RATE_BPS,
    publish: notifier.publishSubscription,
    notify: notifier.notifySubscription,
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
      billing: billingStore,
      provider,
      listener,
      logger: paymentsLogger,
      now,
      publish: notifier.publishPayment,
      notify: notifier.notifyPayment,
      persistEvent: notifier.persistPaymentEvent,
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

  const services = createBillingFacade({
    lifecycle,
    planAdmin: createPlanAdmin(createPlanAdminRepository(prisma)),
    invoices,
    paymentMethods,
    usage,
    apiKeys,
    webhookEndpoints,
    webhookDeliveries,
  });

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
      // The kit is closed by whoever built it.
    },
  };
}
