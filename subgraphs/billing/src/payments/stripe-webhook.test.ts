import { createTestDatabase, startFakeStripe, type FakeStripe, type TestDatabase } from '@gatehouse/testing';
import { createStripeProvider } from '../stripe';
import { createChargingService, type ChargingService } from './charging.service';
import { createPaymentMethodRepository } from './payment-method.repository';
import { createPaymentMethodService, type PaymentMethodService } from './payment-methods.service';
import { createBillingStore } from '../billing.repository';
import { createBillingRecipientRepository } from '../notifications';
import { createPaymentRepository } from './payment.repository';
import { createStripeWebhookRoute, STRIPE_WEBHOOK_PATH } from './stripe-webhook.route';
import { openInvoice, quietLogger, recordingListener, serveRoute } from './payments.test-support';
import type { PaymentDomainEvent } from './types';

let db: TestDatabase;
let fake: FakeStripe;
let methods: PaymentMethodService;
let charging: ChargingService;
let server: { url: string; close(): Promise<void> };
let webhookUrl: string;
const clock = new Date('2030-02-01T00:00:00.000Z');
const recorded = recordingListener();
const published: PaymentDomainEvent[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeStripe();
  const provider = createStripeProvider({
    secretKey: fake.secretKey,
    webhookSecret: fake.webhookSecret,
    apiBase: fake.baseUrl,
  });
  const shared = {
    billing: createBillingStore(db.prisma),
    payments: createPaymentRepository(db.prisma),
    listener: recorded.listener,
    logger: quietLogger,
    now: () => clock,
    publish: async (event: PaymentDomainEvent) => void published.push(event),
  };
  methods = createPaymentMethodService({
    paymentMethods: createPaymentMethodRepository(db.prisma),
    recipients: createBillingRecipientRepository(db.prisma),
    provider,
    logger: quietLogger,
  });
  charging = createChargingService({ ...shared, provider });
  server = await serveRoute(createStripeWebhookRoute({ ...shared, provider }));
  webhookUrl = `${server.url}${STRIPE_WEBHOOK_PATH}`;
});

afterAll(async () => {
  await server?.close();
  await fake?.close();
  await db?.close();
});

let counter = 0;
/** A user with a visa card, and an OPEN invoice whose charge the fake leaves `processing`. */
async function processingPayment(amount = 1000) {
  counter++;
  const user = await db.prisma.user.create({ data: { email: `hook-${counter}@example.test` } });
  await methods.add(user.id, 'pm_card_visa');
  const customer = await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: user.id } });
  fake.forceNextCharges(customer.providerCustomerId, 1, { kind: 'processing' });
  const invoice = await openInvoice(db.prisma, user.id, amount);
  const payment = await charging.chargeInvoice(invoice.id);
  expect(payment.status).toBe('PROCESSING');
  return { user, invoice, payment, piId: payment.providerPaymentId ?? '' };
}

const paymentRow = (id: string) => db.prisma.payment.findUniqueOrThrow({ where: { id } });
const invoiceRow = (id: string) => db.prisma.invoice.findUniqueOrThrow({ where: { id } });

describe('POST /webhooks/stripe', () => {
  it('answers 400 to a bad or missing signature and records nothing', async () => {
    const { payment, piId } = await processingPayment();
    const event = fake.settlePaymentIntent(piId, 'succeeded');
    expect((await fake.sendEvent(webhookUrl, event, { secret: 'whsec_not_ours' })).status).toBe(400);
    expect((await fake.sendEvent(webhookUrl, event, { signatureHeader: '' })).status).toBe(400);
    expect(await db.prisma.processedProviderEvent.count({ where: { eventId: event.id } })).toBe(0);
    expect((await paymentRow(payment.id)).status).toBe('PROCESSING');
  });

  it('reconciles a processing payment on payment_intent.succeeded, exactly once on double delivery', async () => {
    const { invoice, payment, piId } = await processingPayment(2200);
    const event = fake.settlePaymentIntent(piId, 'succeeded');
    const results = await Promise.all([fake.sendEvent(webhookUrl, event), fake.sendEvent(webhookUrl, event)]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results.map((r) => JSON.parse(r.body).handling).sort()).toEqual(['applied', 'duplicate']);
    const again = await fake.sendEvent(webhookUrl, event);
    expect(JSON.parse(again.body)).toEqual({ received: true, handling: 'duplicate' });

    expect(await paymentRow(payment.id)).toMatchObject({
      status: 'SUCCEEDED',
      providerEventAt: new Date(event.created * 1000),
    });
    expect(await invoiceRow(invoice.id)).toMatchObject({ status: 'PAID', amountPaid: 2200, amountDue: 0 });
    expect(recorded.succeeded.filter((e) => e.paymentId === payment.id)).toHaveLength(1);
    expect(published.filter((e) => e.id === `payment.succeeded:${payment.id}`)).toHaveLength(1);
    expect(
      await db.prisma.auditLog.count({ where: { targetId: payment.id, action: 'PAYMENT_SUCCEEDED' } }),
    ).toBe(1);
  });

  it('ignores an older payment_failed delivered after payment_intent.succeeded (out of order)', async () => {
    const { invoice, payment, piId } = await processingPayment();
    const succeeded = fake.settlePaymentIntent(piId, 'succeeded');
    const olderFailure = fake.buildEvent(
      'payment_intent.payment_failed',
      {
        ...(fake.paymentIntents.get(piId) as { id: string; object: string }),
        status: 'requires_payment_method',
        last_payment_error: { code: 'card_declined', decline_code: 'generic_decline', message: 'declined' },
      },
      { created: succeeded.created - 5 },
    );
    expect((await fake.sendEvent(webhookUrl, succeeded)).status).toBe(200);
    const late = await fake.sendEvent(webhookUrl, olderFailure);
    expect(late.status).toBe(200);
    expect(JSON.parse(late.body).handling).toBe('ignored');
    expect(await paymentRow(payment.id)).toMatchObject({ status: 'SUCCEEDED', failureCode: null });
    expect((await invoiceRow(invoice.id)).status).toBe('PAID');
    expect(recorded.failed.filter((e) => e.paymentId === payment.id)).toHaveLength(0);
  });

  it('a failure that is newer but after success still cannot undo it', async () => {
    const { payment, piId } = await processingPayment();
    const succeeded = fake.settlePaymentIntent(piId, 'succeeded');
    const laterFailure = fake.buildEvent(
      'payment_intent.payment_failed',
      fake.paymentIntents.get(piId) as { id: string; object: string },
      { created: succeeded.created + 5 },
    );
    await fake.sendEvent(webhookUrl, succeeded);
    expect(JSON.parse((await fake.sendEvent(webhookUrl, laterFailure)).body).handling).toBe('ignored');
    expect((await paymentRow(payment.id)).status).toBe('SUCCEEDED');
  });

  it('payment_intent.payment_failed fails a processing attempt and schedules dunning', async () => {
    const { invoice, payment, piId } = await processingPayment();
    const failed = fake.settlePaymentIntent(piId, { declineCode: 'insufficient_funds' });
    expect((await fake.sendEvent(webhookUrl, failed)).status).toBe(200);
    expect(await paymentRow(payment.id)).toMatchObject({
      status: 'FAILED',
      failureCode: 'insufficient_funds',
      nextAttemptAt: new Date(clock.getTime() + 24 * 60 * 60 * 1000),
    });
    expect((await invoiceRow(invoice.id)).status).toBe('OPEN');
    expect(recorded.failed).toContainEqual(
      expect.objectContaining({ paymentId: payment.id, final: false, attempt: 1 }),
    );
  });

  it('charge.refunded marks the payment REFUNDED, the invoice stays PAID, audited', async () => {
    const { invoice, payment, piId } = await processingPayment(700);
    await fake.sendEvent(webhookUrl, fake.settlePaymentIntent(piId, 'succeeded'));
    const refunded = fake.refund(piId);
    expect((await fake.sendEvent(webhookUrl, refunded)).status).toBe(200);
    expect((await paymentRow(payment.id)).status).toBe('REFUNDED');
    expect((await invoiceRow(invoice.id)).status).toBe('PAID');
    expect(
      await db.prisma.auditLog.count({ where: { targetId: payment.id, action: 'PAYMENT_REFUNDED' } }),
    ).toBe(1);
    expect(published).toContainEqual(expect.objectContaining({ id: `payment.refunded:${payment.id}` }));
  });

  it('acknowledges event types it does not handle, and answers 405 to other methods', async () => {
    const other = fake.buildEvent('customer.created', { id: 'cus_x', object: 'customer' });
    expect(JSON.parse((await fake.sendEvent(webhookUrl, other)).body).handling).toBe('ignored');
    expect(await db.prisma.processedProviderEvent.count({ where: { eventId: other.id } })).toBe(1);
    expect((await fetch(webhookUrl)).status).toBe(405);
  });

  it('answers 500 and records nothing when processing fails, so the redelivery does the work', async () => {
    const { payment, piId } = await processingPayment();
    const event = fake.settlePaymentIntent(piId, 'succeeded');
    const original = recorded.listener.onPaymentSucceeded;
    recorded.listener.onPaymentSucceeded = async () => {
      throw new Error('listener down');
    };
    try {
      expect((await fake.sendEvent(webhookUrl, event)).status).toBe(500);
    } finally {
      recorded.listener.onPaymentSucceeded = original;
    }
    expect(await db.prisma.processedProviderEvent.count({ where: { eventId: event.id } })).toBe(0);
    expect((await paymentRow(payment.id)).status).toBe('PROCESSING');
    expect((await fake.sendEvent(webhookUrl, event)).status).toBe(200);
    expect((await paymentRow(payment.id)).status).toBe('SUCCEEDED');
  });
});
