import { ErrorCode } from '@gatehouse/errors';
import { createTestDatabase, startFakeStripe, type FakeStripe, type TestDatabase } from '@gatehouse/testing';
import { createStripeProvider } from '../stripe';
import { createChargingService, type ChargingService } from './charging.service';
import { createPaymentMethodRepository } from './payment-method.repository';
import { createBillingStore } from '../billing.repository';
import { createBillingRecipientRepository } from '../notifications';
import { createPaymentRepository } from './payment.repository';
import { createPaymentMethodService, type PaymentMethodService } from './payment-methods.service';
import { openInvoice, quietLogger, recordingListener } from './payments.test-support';
import type { PaymentDomainEvent, PaymentNotice } from './types';

const DAY = 24 * 60 * 60 * 1000;

let db: TestDatabase;
let fake: FakeStripe;
let methods: PaymentMethodService;
let charging: ChargingService;
let clock = new Date('2030-01-10T12:00:00.000Z');
const recorded = recordingListener();
const published: PaymentDomainEvent[] = [];
const notices: PaymentNotice[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeStripe();
  const provider = createStripeProvider({
    secretKey: fake.secretKey,
    webhookSecret: fake.webhookSecret,
    apiBase: fake.baseUrl,
  });
  methods = createPaymentMethodService({
    paymentMethods: createPaymentMethodRepository(db.prisma),
    recipients: createBillingRecipientRepository(db.prisma),
    provider,
    logger: quietLogger,
  });
  charging = createChargingService({
    billing: createBillingStore(db.prisma),
    payments: createPaymentRepository(db.prisma),
    provider,
    listener: recorded.listener,
    logger: quietLogger,
    now: () => clock,
    publish: async (event) => void published.push(event),
    notify: async (notice) => void notices.push(notice),
  });
});

afterAll(async () => {
  await fake?.close();
  await db?.close();
});

let userCounter = 0;
async function user() {
  userCounter++;
  return db.prisma.user.create({ data: { email: `payer-${userCounter}@example.test` } });
}

describe('payment methods', () => {
  it('adds a card (customer created once, card details only), first is default, lists default first', async () => {
    const alice = await user();
    const visa = await methods.add(alice.id, 'pm_card_visa');
    expect(visa).toMatchObject({
      userId: alice.id,
      brand: 'visa',
      last4: '4242',
      expMonth: 12,
      isDefault: true,
    });
    const master = await methods.add(alice.id, 'pm_card_mastercard');
    expect(master.isDefault).toBe(false);

    const customer = await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: alice.id } });
    expect(fake.customers.get(customer.providerCustomerId)?.metadata).toEqual({ user_id: alice.id });
    expect(
      [...fake.customers.values()].filter((c) => (c.metadata as { user_id: string }).user_id === alice.id),
    ).toHaveLength(1);
    const row = await db.prisma.paymentMethod.findUniqueOrThrow({ where: { id: visa.id } });
    expect(fake.paymentMethods.get(row.providerPaymentMethodId)?.customer).toBe(customer.providerCustomerId);

    expect((await methods.list(alice.id)).map((m) => m.id)).toEqual([visa.id, master.id]);
    await methods.setDefault(alice.id, master.id);
    expect((await methods.list(alice.id)).map((m) => [m.id, m.isDefault])).toEqual([
      [master.id, true],
      [visa.id, false],
    ]);
    expect(await methods.defaultFor(alice.id)).toBe(master.id);
    const audit = await db.prisma.auditLog.findMany({
      where: { actorUserId: alice.id },
      select: { action: true },
    });
    expect(audit.map((a) => a.action).sort()).toEqual([
      'PAYMENT_METHOD_ADDED',
      'PAYMENT_METHOD_ADDED',
      'PAYMENT_METHOD_DEFAULT_CHANGED',
    ]);
  });

  it('refuses malformed and unknown tokens, and other users’ methods', async () => {
    const bob = await user();
    const other = await user();
    await expect(methods.add(bob.id, '4242424242424242')).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
    });
    await expect(methods.add(bob.id, 'pm_does_not_exist')).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
    });
    const card = await methods.add(bob.id, 'pm_card_visa');
    await expect(methods.setDefault(other.id, card.id)).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(methods.remove(other.id, card.id)).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    expect(await methods.belongsTo(other.id, card.id)).toBe(false);
    expect(await methods.belongsTo(bob.id, card.id)).toBe(true);
  });

  it('refuses to remove the only method of a live subscription; removes and detaches otherwise', async () => {
    const carol = await user();
    const plan = await db.prisma.subscriptionPlan.create({
      data: { code: `p-${carol.id}`, name: 'P', priceAmount: 1000, currency: 'EUR', interval: 'MONTH' },
    });
    await db.prisma.subscription.create({
      data: {
        userId: carol.id,
        planId: plan.id,
        status: 'PAST_DUE',
        priceAmount: 1000,
        currency: 'EUR',
        currentPeriodStart: clock,
        billingCycleAnchor: clock,
        currentPeriodEnd: new Date(clock.getTime() + 30 * DAY),
      },
    });
    const first = await methods.add(carol.id, 'pm_card_visa');
    await expect(methods.remove(carol.id, first.id)).rejects.toMatchObject({
      code: ErrorCode.PAYMENT_METHOD_IN_USE,
    });

    const second = await methods.add(carol.id, 'pm_card_mastercard');
    const firstRow = await db.prisma.paymentMethod.findUniqueOrThrow({ where: { id: first.id } });
    await methods.remove(carol.id, first.id);
    expect(fake.paymentMethods.get(firstRow.providerPaymentMethodId)?.customer).toBeNull();
    // The default moved to the remaining card, which is now the only one again.
    expect(await methods.list(carol.id)).toEqual([
      expect.objectContaining({ id: second.id, isDefault: true }),
    ]);
    await expect(methods.remove(carol.id, second.id)).rejects.toMatchObject({
      code: ErrorCode.PAYMENT_METHOD_IN_USE,
    });
  });
});

describe('charging', () => {
  it('charges an invoice: payment SUCCEEDED, invoice PAID in the same transaction, listener, audit, event', async () => {
    const dave = await user();
    await methods.add(dave.id, 'pm_card_visa');
    const invoice = await openInvoice(db.prisma, dave.id, 2500);
    const payment = await charging.chargeInvoice(invoice.id);
    expect(payment).toMatchObject({ status: 'SUCCEEDED', amount: 2500, currency: 'EUR', attemptCount: 1 });
    expect(payment.providerPaymentId).toMatch(/^pi_/);
    expect(fake.paymentIntents.get(payment.providerPaymentId ?? '')).toMatchObject({
      amount: 2500,
      currency: 'eur',
      status: 'succeeded',
      metadata: { payment_id: payment.id, invoice_id: invoice.id, attempt: '1' },
    });
    expect(await db.prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).toMatchObject({
      status: 'PAID',
      amountPaid: 2500,
      amountDue: 0,
      paidAt: clock,
    });
    expect(recorded.succeeded).toContainEqual({
      paymentId: payment.id,
      invoiceId: invoice.id,
      userId: dave.id,
      amount: 2500,
      currency: 'EUR',
      attempt: 1,
    });
    const actions = await db.prisma.auditLog.findMany({
      where: { targetId: payment.id },
      select: { action: true },
    });
    expect(actions.map((a) => a.action).sort()).toEqual(['PAYMENT_SUCCEEDED', 'TEST_LISTENER_SUCCEEDED']);
    expect(published).toContainEqual(
      expect.objectContaining({
        id: `payment.succeeded:${payment.id}`,
        type: 'payment.succeeded',
        userId: dave.id,
      }),
    );
    // Charging a paid invoice again returns the same payment, no new provider call.
    const before = fake.paymentIntents.size;
    expect((await charging.chargeInvoice(invoice.id)).id).toBe(payment.id);
    expect(fake.paymentIntents.size).toBe(before);
  });

  it('records a decline with its reason and schedules the first retry a day later', async () => {
    const erin = await user();
    await methods.add(erin.id, 'pm_card_chargeDeclinedInsufficientFunds');
    const invoice = await openInvoice(db.prisma, erin.id, 1200);
    const payment = await charging.chargeInvoice(invoice.id);
    expect(payment).toMatchObject({
      status: 'FAILED',
      failureCode: 'insufficient_funds',
      attemptCount: 1,
      nextAttemptAt: new Date(clock.getTime() + DAY),
    });
    expect(payment.failureReason).toContain('insufficient funds');
    expect((await db.prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).status).toBe('OPEN');
    expect(recorded.failed).toContainEqual(
      expect.objectContaining({ paymentId: payment.id, final: false, failureReason: 'insufficient_funds' }),
    );
    expect(notices).toContainEqual(
      expect.objectContaining({ paymentId: payment.id, attempt: 1, final: false }),
    );
    expect(published).toContainEqual(expect.objectContaining({ id: `payment.failed:${payment.id}:1` }));
  });

  it('a first-invoice decline is final (no dunning): its caller handles it', async () => {
    const fay = await user();
    await methods.add(fay.id, 'pm_card_chargeDeclined');
    const invoice = await openInvoice(db.prisma, fay.id, 900, 'SUBSCRIPTION_CREATE');
    const payment = await charging.chargeInvoice(invoice.id);
    expect(payment).toMatchObject({ status: 'FAILED', failureCode: 'generic_decline', nextAttemptAt: null });
    expect(recorded.failed).toContainEqual(expect.objectContaining({ paymentId: payment.id, final: true }));
  });

  it('without a payment method the attempt fails without a provider call', async () => {
    const gus = await user();
    const invoice = await openInvoice(db.prisma, gus.id, 500);
    const payment = await charging.chargeInvoice(invoice.id);
    expect(payment).toMatchObject({
      status: 'FAILED',
      failureCode: 'payment_method_required',
      providerPaymentId: null,
    });
  });

  it('a zero-amount invoice is marked paid without a provider call', async () => {
    const hal = await user();
    const invoice = await openInvoice(db.prisma, hal.id, 0);
    const before = fake.requests.length;
    const payment = await charging.chargeInvoice(invoice.id);
    expect(payment).toMatchObject({ status: 'SUCCEEDED', amount: 0, providerPaymentId: null });
    expect(fake.requests.length).toBe(before);
    expect((await db.prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).status).toBe('PAID');
  });

  it('is idempotent under concurrency: the same invoice charged twice at once → one PaymentIntent', async () => {
    const ivy = await user();
    await methods.add(ivy.id, 'pm_card_visa');
    const customer = await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: ivy.id } });
    const invoice = await openInvoice(db.prisma, ivy.id, 4200);
    const results = await Promise.all([
      charging.chargeInvoice(invoice.id),
      charging.chargeInvoice(invoice.id),
      charging.chargeInvoice(invoice.id),
    ]);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(fake.paymentIntentsFor(customer.providerCustomerId)).toHaveLength(1);
    expect(await db.prisma.payment.count({ where: { invoiceId: invoice.id, status: 'SUCCEEDED' } })).toBe(1);
    expect(recorded.succeeded.filter((e) => e.invoiceId === invoice.id)).toHaveLength(1);
    expect((await db.prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).amountPaid).toBe(4200);
  });

  it('a lost provider answer leaves the payment PENDING; the retry job repeats the same call (one charge)', async () => {
    const jo = await user();
    await methods.add(jo.id, 'pm_card_visa');
    const customer = await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: jo.id } });
    const invoice = await openInvoice(db.prisma, jo.id, 800);
    // Every try (first + 2 SDK retries) loses its answer after Stripe processed it.
    fake.failNextRequests(3, 'drop-response');
    await expect(charging.chargeInvoice(invoice.id)).rejects.toMatchObject({
      code: ErrorCode.SERVICE_UNAVAILABLE,
    });
    const pending = await db.prisma.payment.findFirstOrThrow({ where: { invoiceId: invoice.id } });
    expect(pending.status).toBe('PENDING');
    expect(fake.paymentIntentsFor(customer.providerCustomerId)).toHaveLength(1);

    const later = new Date(clock.getTime() + 60 * 60 * 1000);
    const run = await charging.retryDuePayments(later);
    expect(run).toMatchObject({ attempted: 1, succeeded: 1 });
    expect(fake.paymentIntentsFor(customer.providerCustomerId)).toHaveLength(1);
    expect(await db.prisma.payment.findUniqueOrThrow({ where: { id: pending.id } })).toMatchObject({
      status: 'SUCCEEDED',
      attemptCount: 1,
    });
  });
});

describe('dunning', () => {
  // Earlier tests leave failed payments due tomorrow; each dunning test sees only its own.
  beforeEach(async () => {
    await db.prisma.payment.updateMany({
      where: { status: { in: ['FAILED', 'PENDING'] } },
      data: { nextAttemptAt: null },
    });
  });

  async function dunningUser() {
    const u = await user();
    await methods.add(u.id, 'pm_card_visa');
    const customer = await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: u.id } });
    return { user: u, customerId: customer.providerCustomerId };
  }

  it('retries after 1, 3 and 7 days; the 4th failure is final', async () => {
    const { user: kim, customerId } = await dunningUser();
    fake.forceNextCharges(customerId, 4, { kind: 'decline', declineCode: 'insufficient_funds' });
    const invoice = await openInvoice(db.prisma, kim.id, 3000);
    const start = clock;
    const first = await charging.chargeInvoice(invoice.id);
    expect(first.nextAttemptAt).toEqual(new Date(start.getTime() + DAY));

    // Not due yet: nothing happens.
    expect((await charging.retryDuePayments(new Date(start.getTime() + DAY - 1000))).attempted).toBe(0);

    let at = new Date(start.getTime() + DAY);
    const expectations = [
      { attempt: 2, next: 3 * DAY },
      { attempt: 3, next: 7 * DAY },
      { attempt: 4, next: null },
    ];
    for (const step of expectations) {
      clock = at;
      const run = await charging.retryDuePayments(at);
      expect(run).toMatchObject({ attempted: 1, failed: 1, succeeded: 0 });
      const row = await db.prisma.payment.findUniqueOrThrow({ where: { id: first.id } });
      expect(row).toMatchObject({ status: 'FAILED', attemptCount: step.attempt });
      expect(row.nextAttemptAt).toEqual(step.next === null ? null : new Date(at.getTime() + step.next));
      if (row.nextAttemptAt) at = row.nextAttemptAt;
    }
    clock = start;
    const events = recorded.failed.filter((e) => e.paymentId === first.id);
    expect(events.map((e) => [e.attempt, e.final])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
    ]);
    expect(notices.filter((n) => n.paymentId === first.id)).toHaveLength(4);
    expect(fake.paymentIntentsFor(customerId)).toHaveLength(4);
    // Final: never picked again.
    expect((await charging.retryDuePayments(new Date(at.getTime() + 365 * DAY))).attempted).toBe(0);
  });

  it('failed then recovered: two declines, the third attempt succeeds and pays the invoice', async () => {
    const { user: lee, customerId } = await dunningUser();
    fake.forceNextCharges(customerId, 2, { kind: 'decline' });
    const invoice = await openInvoice(db.prisma, lee.id, 1500);
    const first = await charging.chargeInvoice(invoice.id);
    expect(first.status).toBe('FAILED');
    const day1 = new Date(clock.getTime() + DAY);
    expect(await charging.retryDuePayments(day1)).toMatchObject({ attempted: 1, failed: 1 });
    const day4 = new Date(clock.getTime() + 4 * DAY);
    expect(await charging.retryDuePayments(day4)).toMatchObject({ attempted: 1, succeeded: 1 });
    expect(await db.prisma.payment.findUniqueOrThrow({ where: { id: first.id } })).toMatchObject({
      status: 'SUCCEEDED',
      attemptCount: 3,
      nextAttemptAt: null,
      failureCode: null,
    });
    expect(await db.prisma.invoice.findUniqueOrThrow({ where: { id: invoice.id } })).toMatchObject({
      status: 'PAID',
      amountDue: 0,
    });
    expect(recorded.succeeded).toContainEqual(expect.objectContaining({ paymentId: first.id, attempt: 3 }));
  });

  it('two concurrent dunning runs attempt each due payment once; voided invoices are dropped', async () => {
    const a = await dunningUser();
    const b = await dunningUser();
    fake.forceNextCharges(a.customerId, 1, { kind: 'decline' });
    fake.forceNextCharges(b.customerId, 1, { kind: 'decline' });
    const invA = await openInvoice(db.prisma, a.user.id, 100);
    const invB = await openInvoice(db.prisma, b.user.id, 200);
    await charging.chargeInvoice(invA.id);
    await charging.chargeInvoice(invB.id);
    await db.prisma.invoice.update({ where: { id: invB.id }, data: { status: 'VOID' } });

    const due = new Date(clock.getTime() + DAY);
    const before = fake.paymentIntentsFor(a.customerId).length;
    const runs = await Promise.all([charging.retryDuePayments(due), charging.retryDuePayments(due)]);
    expect(fake.paymentIntentsFor(a.customerId).length).toBe(before + 1);
    expect(fake.paymentIntentsFor(b.customerId)).toHaveLength(1);
    expect(await db.prisma.payment.findFirstOrThrow({ where: { invoiceId: invA.id } })).toMatchObject({
      status: 'SUCCEEDED',
      attemptCount: 2,
    });
    expect(await db.prisma.payment.findFirstOrThrow({ where: { invoiceId: invB.id } })).toMatchObject({
      status: 'CANCELED',
      nextAttemptAt: null,
    });
    expect(runs.reduce((n, r) => n + r.succeeded, 0)).toBe(1);
    expect(runs.reduce((n, r) => n + r.canceled, 0)).toBe(1);
  });
});
