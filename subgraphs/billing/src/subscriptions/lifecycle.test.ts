import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { seed, type Subscription } from '@gatehouse/db';
import { ErrorCode } from '@gatehouse/errors';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import {
  createTestDatabase,
  startFakeStripe,
  waitFor,
  type FakeStripe,
  type TestDatabase,
  testSecrets,
} from '@gatehouse/testing';
import { createServiceKit } from '@gatehouse/service';
import { loadBillingConfig } from '../config';
import {
  BILLING_EVENTS_TOPIC,
  createBillingServices,
  type BillingBusEvent,
  type BillingRuntime,
} from '../runtime';
import { serveRoute } from '../payments/payments.test-support';
import { STRIPE_WEBHOOK_PATH } from '../payments/stripe-webhook.route';
import type { BillingActor } from './lifecycle';

/**
 * Issue #7: the subscription lifecycle end to end through `createBillingServices` (real Postgres, the fake
 * Stripe, the in-process job queue and event bus), driven by an injected clock.
 *
 * The renewal and dunning jobs scan every subscription and payment of the database, so each test lives in its
 * own calendar year, and the years go DOWN from one test to the next: the clock of a later test is always before
 * every period end and retry date an earlier test left behind, so no test renews or retries another's rows.
 */

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 20 %: every expected amount below includes it. */
const TAX_BPS = 2000;

const logger = createLogger({ name: 'lifecycle-test', level: 'silent' });

let db: TestDatabase;
let fake: FakeStripe;
let tmpDir: string;
let runtime: BillingRuntime;
const extraRuntimes: BillingRuntime[] = [];
let clock = new Date('2070-01-01T00:00:00.000Z');
const plans = { free: '', basic: '', premium: '', trial: '' };

/** Integer division rounded half-up, for non-negative operands (our own arithmetic, not money/). */
const roundHalfUp = (numerator: number, denominator: number) =>
  Math.floor((2 * numerator + denominator) / (2 * denominator));
/** An invoice total for a subtotal: tax at TAX_BPS, rounded half-up once per invoice. */
const withTax = (subtotal: number) => subtotal + roundHalfUp(subtotal * TAX_BPS, 10_000);

function buildRuntime(): BillingRuntime {
  const env = {
    NODE_ENV: 'test',
    ...testSecrets(),
    LOG_LEVEL: 'silent',
    STRIPE_SECRET_KEY: fake.secretKey,
    STRIPE_WEBHOOK_SECRET: fake.webhookSecret,
    STRIPE_API_BASE: fake.baseUrl,
    STORAGE_DIR: path.join(tmpDir, 'storage'),
    MAIL_OUTBOX_DIR: path.join(tmpDir, 'outbox'),
    BILLING_TAX_RATE_BPS: String(TAX_BPS),
  };
  const config = loadBillingConfig(env);
  const kv = new MemoryKeyValueStore();
  const kit = createServiceKit({ prisma: db.prisma, logger, kv, env });
  const built = createBillingServices({
    prisma: db.prisma,
    logger,
    config,
    kv,
    kit,
    schedule: false,
    now: () => clock,
  });
  // A replica is a process: closing it closes its kit too.
  return {
    ...built,
    close: async () => {
      await built.close();
      await kit.close();
    },
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, {
    adminEmail: 'admin@example.test',
    adminPassword: 'unused',
    hashPassword: async () => 'x',
  });
  fake = await startFakeStripe();
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'billing-lifecycle-'));
  runtime = buildRuntime();
  const plan = (code: string, priceAmount: number, extra: { trialDays?: number; apiCalls?: number } = {}) =>
    db.prisma.subscriptionPlan.create({
      data: {
        code,
        name: code,
        priceAmount,
        currency: 'EUR',
        interval: 'MONTH',
        trialDays: extra.trialDays ?? 0,
        limits: { api_calls: extra.apiCalls ?? 500_000 },
      },
    });
  plans.free = (await db.prisma.subscriptionPlan.findUniqueOrThrow({ where: { code: 'free' } })).id;
  plans.basic = (await plan('lc-basic', 1000)).id;
  plans.premium = (await plan('lc-premium', 3000, { apiCalls: 2_000_000 })).id;
  plans.trial = (await plan('lc-trial', 2000, { trialDays: 7 })).id;
});

afterAll(async () => {
  for (const extra of extraRuntimes) await extra.close();
  await runtime?.close();
  await fake?.close();
  await db?.close();
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
});

let userCounter = 0;
async function newUser(): Promise<BillingActor> {
  userCounter++;
  const user = await db.prisma.user.create({ data: { email: `lifecycle-${userCounter}@example.test` } });
  return { actorUserId: user.id };
}

/** A user with a card (the first card becomes the default). */
async function userWithCard(token = 'pm_card_visa'): Promise<BillingActor> {
  const actor = await newUser();
  await runtime.services.paymentMethods.add(actor, token);
  return actor;
}

async function subscriber(planId: string, token = 'pm_card_visa') {
  const actor = await userWithCard(token);
  const subscription = await runtime.lifecycle.subscribe(actor, planId);
  return { actor, subscription };
}

async function customerIdOf(actor: BillingActor): Promise<string> {
  return (await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: actor.actorUserId } }))
    .providerCustomerId;
}

/** The PaymentIntents the fake created for the user, oldest first. */
async function intentsOf(actor: BillingActor) {
  return fake.paymentIntentsFor(await customerIdOf(actor));
}

async function subscriptionsOf(actor: BillingActor): Promise<Subscription[]> {
  return db.prisma.subscription.findMany({
    where: { userId: actor.actorUserId },
    orderBy: { createdAt: 'asc' },
  });
}

async function onlySubscription(actor: BillingActor): Promise<Subscription> {
  const rows = await subscriptionsOf(actor);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

function invoicesOf(
  actor: BillingActor,
  billingReason?: 'SUBSCRIPTION_CREATE' | 'SUBSCRIPTION_CYCLE' | 'SUBSCRIPTION_UPDATE',
) {
  return db.prisma.invoice.findMany({
    where: { userId: actor.actorUserId, ...(billingReason ? { billingReason } : {}) },
    orderBy: { createdAt: 'asc' },
    include: { lineItems: { orderBy: { amount: 'asc' } } },
  });
}

function mailCount(actor: BillingActor, template: string): Promise<number> {
  return db.prisma.emailDelivery.count({ where: { userId: actor.actorUserId, template } });
}

/** UTC midnight of the first of `month` (1-based). */
const utc = (year: number, month: number, day = 1, hour = 0) =>
  new Date(Date.UTC(year, month - 1, day, hour));

describe('subscribe', () => {
  beforeAll(() => {
    clock = utc(2070, 4);
  });

  it('starts a free plan ACTIVE without a payment method or an invoice', async () => {
    const actor = await newUser();
    const subscription = await runtime.lifecycle.subscribe(actor, plans.free);
    expect(subscription).toMatchObject({ status: 'ACTIVE', planId: plans.free, priceAmount: 0 });
    expect(subscription.currentPeriodStart).toEqual(clock);
    expect(await invoicesOf(actor)).toEqual([]);
    expect(await db.prisma.payment.count({ where: { userId: actor.actorUserId } })).toBe(0);
  });

  it('starts a trial plan TRIALING until the trial ends, without charging', async () => {
    const actor = await userWithCard();
    const subscription = await runtime.lifecycle.subscribe(actor, plans.trial);
    expect(subscription).toMatchObject({ status: 'TRIALING', planId: plans.trial, priceAmount: 2000 });
    expect(subscription.trialEndsAt).toEqual(new Date(clock.getTime() + 7 * DAY));
    expect(subscription.currentPeriodEnd).toEqual(new Date(clock.getTime() + 7 * DAY));
    expect(await invoicesOf(actor)).toEqual([]);
    expect(await intentsOf(actor)).toEqual([]);
  });

  // Issue #14: free trials repeated (subscribe, cancel, subscribe again: a new trial every time).
  it('gives one free trial per user and plan family: subscribing again starts paid at once', async () => {
    const actor = await userWithCard();
    const first = await runtime.lifecycle.subscribe(actor, plans.trial);
    expect(first).toMatchObject({ status: 'TRIALING' });
    // The trial ends without conversion (canceled); later the user comes back to the same plan.
    await db.prisma.subscription.update({
      where: { id: first.id },
      data: { status: 'CANCELED', canceledAt: clock, endedAt: clock },
    });

    const again = await runtime.lifecycle.subscribe(actor, plans.trial);
    expect(again).toMatchObject({ status: 'ACTIVE', planId: plans.trial, trialEndsAt: null });
    expect(again.currentPeriodStart).toEqual(clock);
    expect((await invoicesOf(actor, 'SUBSCRIPTION_CREATE')).map((invoice) => invoice.status)).toEqual([
      'PAID',
    ]);
    expect(
      await db.prisma.subscriptionTrial.findMany({
        where: { userId: actor.actorUserId },
        select: { planFamily: true, subscriptionId: true },
      }),
    ).toEqual([{ planFamily: 'lc-trial', subscriptionId: first.id }]);
  });

  it('refuses a used trial without a payment method: PAYMENT_METHOD_REQUIRED, nothing created', async () => {
    const actor = await newUser();
    await db.prisma.subscriptionTrial.create({ data: { userId: actor.actorUserId, planFamily: 'lc-trial' } });
    await expect(runtime.lifecycle.subscribe(actor, plans.trial)).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
    });
    expect(await subscriptionsOf(actor)).toEqual([]);
  });

  it('counts a plan switched to during a trial as that family’s trial too', async () => {
    const actor = await newUser();
    await runtime.lifecycle.subscribe(actor, plans.trial);
    await runtime.lifecycle.changePlan(actor, plans.basic);
    const families = await db.prisma.subscriptionTrial.findMany({
      where: { userId: actor.actorUserId },
      orderBy: { planFamily: 'asc' },
      select: { planFamily: true },
    });
    expect(families).toEqual([{ planFamily: 'lc-basic' }, { planFamily: 'lc-trial' }]);
  });

  it('enforces one trial per user and family in PostgreSQL, whoever writes', async () => {
    const actor = await newUser();
    const row = { userId: actor.actorUserId, planFamily: 'lc-trial' };
    const results = await Promise.allSettled([
      db.prisma.subscriptionTrial.create({ data: row }),
      db.prisma.subscriptionTrial.create({ data: row }),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    // Another family is another trial.
    await db.prisma.subscriptionTrial.create({ data: { ...row, planFamily: 'lc-other' } });
    expect(await db.prisma.subscriptionTrial.count({ where: { userId: actor.actorUserId } })).toBe(2);
  });

  it('charges the first invoice of a paid plan: invoice PAID, payment SUCCEEDED, ACTIVE, price locked', async () => {
    const { actor, subscription } = await subscriber(plans.basic);
    expect(subscription).toMatchObject({
      status: 'ACTIVE',
      planId: plans.basic,
      priceAmount: 1000,
      currency: 'EUR',
    });
    expect(subscription.currentPeriodStart).toEqual(utc(2070, 4));
    expect(subscription.currentPeriodEnd).toEqual(utc(2070, 5));

    const [invoice, ...others] = await invoicesOf(actor);
    expect(others).toEqual([]);
    expect(invoice).toMatchObject({
      status: 'PAID',
      billingReason: 'SUBSCRIPTION_CREATE',
      subscriptionId: subscription.id,
      subtotalAmount: 1000,
      taxAmount: 200,
      totalAmount: 1200,
      amountPaid: 1200,
      amountDue: 0,
    });
    const payments = await db.prisma.payment.findMany({ where: { invoiceId: invoice!.id } });
    expect(payments).toEqual([
      expect.objectContaining({ status: 'SUCCEEDED', amount: 1200, attemptCount: 1 }),
    ]);
    const intents = await intentsOf(actor);
    expect(intents.map((pi) => [pi.amount, pi.currency, pi.status])).toEqual([[1200, 'eur', 'succeeded']]);
    expect(
      (await db.prisma.subscription.findUniqueOrThrow({ where: { id: subscription.id } })).planVersion,
    ).toBe(1);
  });

  it('refuses a declined first payment: PAYMENT_FAILED, subscription ended, invoice VOID, never retried', async () => {
    const actor = await userWithCard('pm_card_chargeDeclined');
    await expect(runtime.lifecycle.subscribe(actor, plans.basic)).rejects.toMatchObject({
      code: ErrorCode.PAYMENT_FAILED,
    });
    const subscription = await onlySubscription(actor);
    expect(subscription.status).toBe('CANCELED');
    expect(subscription.endedAt).toEqual(clock);
    expect(await runtime.lifecycle.current(actor.actorUserId)).toBeNull();
    const [invoice] = await invoicesOf(actor);
    expect(invoice?.status).toBe('VOID');
    const payment = await db.prisma.payment.findFirstOrThrow({ where: { invoiceId: invoice!.id } });
    expect(payment).toMatchObject({ status: 'FAILED', nextAttemptAt: null });
    expect(await intentsOf(actor)).toHaveLength(1);

    const before = clock;
    try {
      clock = new Date(before.getTime() + 2 * DAY);
      await runtime.runDueWork();
      expect(await intentsOf(actor)).toHaveLength(1);
      expect((await db.prisma.invoice.findUniqueOrThrow({ where: { id: invoice!.id } })).status).toBe('VOID');
    } finally {
      clock = before;
    }
  });

  it('refuses a second subscription with CONFLICT', async () => {
    const { actor } = await subscriber(plans.basic);
    await expect(runtime.lifecycle.subscribe(actor, plans.premium)).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
    });
    expect(await subscriptionsOf(actor)).toHaveLength(1);
    expect(await intentsOf(actor)).toHaveLength(1);
  });

  it('creates exactly one subscription (and one charge) from two concurrent subscribes', async () => {
    const actor = await userWithCard();
    const results = await Promise.allSettled([
      runtime.lifecycle.subscribe(actor, plans.basic),
      runtime.lifecycle.subscribe(actor, plans.basic),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toEqual([
      { status: 'rejected', reason: expect.objectContaining({ code: ErrorCode.CONFLICT }) },
    ]);
    expect((await onlySubscription(actor)).status).toBe('ACTIVE');
    expect(await intentsOf(actor)).toHaveLength(1);
  });
});

describe('changePlan', () => {
  // April has 30 days: 2 592 000 s. Expected values from docs/billing.md, worked by hand:
  // remaining = (end - t) / (end - start); credit = round(1000 × remaining); charge = round(3000 × remaining);
  // invoice total = (charge - credit) + round(20 % of it).
  const PERIOD_S = 30 * 24 * 3600;
  it.each([
    // label, year, seconds after the start, credit, charge, invoice total
    ['at the start of the period', 2069, 0, 1000, 3000, 2400],
    ['at 25 %', 2068, PERIOD_S / 4, 750, 2250, 1800],
    ['at a third (rounding)', 2067, PERIOD_S / 3, 667, 2000, 1600],
    ['at 50 %', 2066, PERIOD_S / 2, 500, 1500, 1200],
    // 3 600 s left: 1000 × 1/720 = 1.39 → 1; 3000 × 1/720 = 4.17 → 4; net 3, tax 0.6 → 1.
    ['one hour before the end', 2065, PERIOD_S - 3600, 1, 4, 4],
  ])(
    'upgrade %s charges the prorated difference now',
    async (_label, year, offsetS, credit, charge, total) => {
      clock = utc(year, 4);
      const { actor, subscription } = await subscriber(plans.basic);
      expect(subscription.currentPeriodEnd).toEqual(utc(year, 5));
      // Our own check of the table row against the documented formula.
      const remaining = PERIOD_S - offsetS;
      expect([roundHalfUp(1000 * remaining, PERIOD_S), roundHalfUp(3000 * remaining, PERIOD_S)]).toEqual([
        credit,
        charge,
      ]);
      expect(withTax(charge - credit)).toBe(total);

      clock = new Date(utc(year, 4).getTime() + offsetS * 1000);
      const result = await runtime.lifecycle.changePlan(actor, plans.premium);
      expect(result.creditAmount).toBe(0);
      expect(result.subscription).toMatchObject({
        planId: plans.premium,
        priceAmount: 3000,
        status: 'ACTIVE',
      });
      // The period does not move.
      expect(result.subscription.currentPeriodStart).toEqual(utc(year, 4));
      expect(result.subscription.currentPeriodEnd).toEqual(utc(year, 5));

      const [invoice, ...others] = await invoicesOf(actor, 'SUBSCRIPTION_UPDATE');
      expect(others).toEqual([]);
      expect(invoice?.id).toBe(result.invoiceId);
      expect(invoice).toMatchObject({
        status: 'PAID',
        subtotalAmount: charge - credit,
        totalAmount: total,
        amountDue: 0,
      });
      expect(invoice!.lineItems.map((line) => [line.kind, line.amount, line.planId])).toEqual([
        ['PRORATION', -credit, plans.basic],
        ['PRORATION', charge, plans.premium],
      ]);
      const intents = await intentsOf(actor);
      expect(intents.map((pi) => [pi.amount, pi.status])).toEqual([
        [1200, 'succeeded'],
        [total, 'succeeded'],
      ]);
    },
  );

  it('downgrade credits the balance, and the next renewal invoice consumes it', async () => {
    clock = utc(2064, 4);
    const { actor } = await subscriber(plans.premium);
    clock = utc(2064, 4, 16); // 15 of 30 days left: credit 1500, charge 500
    const result = await runtime.lifecycle.changePlan(actor, plans.basic);
    expect(result).toMatchObject({ invoiceId: null, creditAmount: 1000 });
    expect(result.subscription).toMatchObject({ planId: plans.basic, priceAmount: 1000, status: 'ACTIVE' });
    expect(result.subscription.currentPeriodEnd).toEqual(utc(2064, 5));
    const customer = await db.prisma.billingCustomer.findUniqueOrThrow({
      where: { userId: actor.actorUserId },
    });
    expect(customer).toMatchObject({ creditBalance: 1000, currency: 'EUR' });
    expect(await intentsOf(actor)).toHaveLength(1);

    clock = new Date(utc(2064, 5).getTime() - HOUR);
    await runtime.runDueWork();
    const [renewal, ...others] = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
    expect(others).toEqual([]);
    // 1000 + 20 % tax = 1200, of which the 1000 credit pays 1000.
    expect(renewal).toMatchObject({
      status: 'PAID',
      subtotalAmount: 1000,
      totalAmount: 1200,
      creditApplied: 1000,
      amountPaid: 200,
      amountDue: 0,
    });
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([3600, 200]);
    expect(
      (await db.prisma.billingCustomer.findUniqueOrThrow({ where: { userId: actor.actorUserId } }))
        .creditBalance,
    ).toBe(0);
    // Charged early; the subscription moves once the new period starts.
    expect((await onlySubscription(actor)).currentPeriodEnd).toEqual(utc(2064, 5));
    clock = utc(2064, 5);
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      planId: plans.basic,
      priceAmount: 1000,
      currentPeriodStart: utc(2064, 5),
      currentPeriodEnd: utc(2064, 6),
    });
    expect(await invoicesOf(actor, 'SUBSCRIPTION_CYCLE')).toHaveLength(1);
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([3600, 200]);
  });

  it('a declined upgrade leaves the plan and price unchanged, voids the invoice and is not retried', async () => {
    clock = utc(2063, 4);
    const { actor } = await subscriber(plans.basic);
    fake.forceNextCharges(await customerIdOf(actor), 1, {
      kind: 'decline',
      declineCode: 'insufficient_funds',
    });
    clock = utc(2063, 4, 11);
    await expect(runtime.lifecycle.changePlan(actor, plans.premium)).rejects.toMatchObject({
      code: ErrorCode.PAYMENT_FAILED,
    });
    expect(await onlySubscription(actor)).toMatchObject({
      planId: plans.basic,
      priceAmount: 1000,
      status: 'ACTIVE',
    });
    const [update] = await invoicesOf(actor, 'SUBSCRIPTION_UPDATE');
    expect(update?.status).toBe('VOID');

    clock = utc(2063, 4, 14);
    await runtime.runDueWork();
    expect(await intentsOf(actor)).toHaveLength(2);
    expect((await onlySubscription(actor)).planId).toBe(plans.basic);
  });
});

describe('cancel and resume', () => {
  it('cancels at period end with a mail, resumes before the end, and ends after the period', async () => {
    clock = utc(2062, 4);
    const { actor } = await subscriber(plans.basic);
    clock = utc(2062, 4, 10);
    const canceled = await runtime.lifecycle.cancel(actor);
    expect(canceled).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: true, canceledAt: clock });
    await waitFor(async () => (await mailCount(actor, 'subscription-canceled')) === 1, {
      what: 'the subscription-canceled mail',
    });

    const resumed = await runtime.lifecycle.resume(actor);
    expect(resumed).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: false, canceledAt: null });
    await expect(runtime.lifecycle.resume(actor)).rejects.toMatchObject({ code: ErrorCode.CONFLICT });

    await runtime.lifecycle.cancel(actor);
    // Within the renewal window: no renewal for a subscription that is ending; access is kept.
    clock = new Date(utc(2062, 5).getTime() - HOUR);
    await runtime.runDueWork();
    expect(await invoicesOf(actor, 'SUBSCRIPTION_CYCLE')).toEqual([]);
    expect(await onlySubscription(actor)).toMatchObject({ status: 'ACTIVE', endedAt: null });

    clock = new Date(utc(2062, 5).getTime() + MINUTE);
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({ status: 'CANCELED', endedAt: clock });
    expect(await runtime.lifecycle.current(actor.actorUserId)).toBeNull();
    await expect(runtime.lifecycle.resume(actor)).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    expect(await intentsOf(actor)).toHaveLength(1);
  });
});

describe('renewal', () => {
  it('renews a period ending within 24 h once: invoice charged early, period advanced once it starts', async () => {
    clock = utc(2061, 4);
    const { actor } = await subscriber(plans.basic);

    clock = new Date(utc(2061, 5).getTime() - 25 * HOUR);
    await runtime.runDueWork();
    expect(await invoicesOf(actor, 'SUBSCRIPTION_CYCLE')).toEqual([]);

    clock = new Date(utc(2061, 5).getTime() - 23 * HOUR);
    await runtime.runDueWork();
    await runtime.runDueWork();
    const [renewal, ...others] = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
    expect(others).toEqual([]);
    expect(renewal).toMatchObject({
      status: 'PAID',
      totalAmount: 1200,
      periodStart: utc(2061, 5),
      periodEnd: utc(2061, 6),
    });
    // Paid, but the current period runs until it ends.
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      currentPeriodStart: utc(2061, 4),
      currentPeriodEnd: utc(2061, 5),
      priceAmount: 1000,
    });
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([1200, 1200]);

    clock = utc(2061, 5);
    await runtime.runDueWork();
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      currentPeriodStart: utc(2061, 5),
      currentPeriodEnd: utc(2061, 6),
      priceAmount: 1000,
    });
    expect((await invoicesOf(actor, 'SUBSCRIPTION_CYCLE')).map((invoice) => invoice.id)).toEqual([
      renewal!.id,
    ]);
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([1200, 1200]);
  });

  it('run twice at once (two calls and a second replica) charges and advances exactly once', async () => {
    clock = utc(2060, 4);
    const { actor } = await subscriber(plans.basic);
    const replica = buildRuntime();
    extraRuntimes.push(replica);

    clock = new Date(utc(2060, 5).getTime() - HOUR);
    await Promise.all([runtime.lifecycle.renewDue(), runtime.lifecycle.renewDue(), replica.runDueWork()]);

    const expectOneRenewal = async () => {
      const renewals = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
      expect(renewals.map((invoice) => invoice.status)).toEqual(['PAID']);
      expect(await db.prisma.payment.count({ where: { invoiceId: renewals[0]!.id } })).toBe(1);
      expect((await intentsOf(actor)).map((pi) => [pi.amount, pi.status])).toEqual([
        [1200, 'succeeded'],
        [1200, 'succeeded'],
      ]);
    };
    await expectOneRenewal();
    expect(await onlySubscription(actor)).toMatchObject({
      currentPeriodStart: utc(2060, 4),
      currentPeriodEnd: utc(2060, 5),
    });

    // At the period start, all at once again: the subscription moves exactly once.
    clock = utc(2060, 5);
    await Promise.all([runtime.lifecycle.renewDue(), runtime.lifecycle.renewDue(), replica.runDueWork()]);
    await expectOneRenewal();
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      currentPeriodStart: utc(2060, 5),
      currentPeriodEnd: utc(2060, 6),
    });
  });

  it('keeps the locked price after a plan edit until the renewal, which charges the new price', async () => {
    clock = utc(2059, 4);
    const plan = await runtime.services.planAdmin.create(await newUser(), {
      code: 'lc-editable',
      name: 'Editable',
      priceAmount: 1000,
      currency: 'EUR',
      interval: 'MONTH',
    });
    const { actor } = await subscriber(plan.id);
    const admin = await newUser();
    const edited = await runtime.services.planAdmin.update(admin, plan.id, { priceAmount: 1500 });
    expect(edited).toMatchObject({ priceAmount: 1500, version: 2 });

    clock = utc(2059, 4, 20);
    expect(await runtime.lifecycle.current(actor.actorUserId)).toMatchObject({ priceAmount: 1000 });

    clock = new Date(utc(2059, 5).getTime() - HOUR);
    await runtime.runDueWork();
    const [renewal] = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
    expect(renewal).toMatchObject({ status: 'PAID', subtotalAmount: 1500, totalAmount: 1800 });
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([1200, 1800]);
    // The old price stays locked until the paid period starts.
    expect(await onlySubscription(actor)).toMatchObject({
      priceAmount: 1000,
      planVersion: 1,
      currentPeriodEnd: utc(2059, 5),
    });
    clock = utc(2059, 5);
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      priceAmount: 1500,
      planVersion: 2,
      currentPeriodStart: utc(2059, 5),
      currentPeriodEnd: utc(2059, 6),
    });
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([1200, 1800]);
  });

  it('converts a trial at its end: first paid period from the trial end, charged at the plan price', async () => {
    clock = utc(2050, 4);
    const { actor, subscription } = await subscriber(plans.trial);
    expect(subscription).toMatchObject({ status: 'TRIALING', currentPeriodEnd: utc(2050, 4, 8) });

    clock = utc(2050, 4, 7, 12);
    await runtime.runDueWork();
    // Charged 12 h early; still trialing until the trial ends.
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([2400]);
    expect((await invoicesOf(actor, 'SUBSCRIPTION_CYCLE')).map((invoice) => invoice.status)).toEqual([
      'PAID',
    ]);
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'TRIALING',
      currentPeriodStart: utc(2050, 4),
      currentPeriodEnd: utc(2050, 4, 8),
    });

    clock = utc(2050, 4, 8);
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      currentPeriodStart: utc(2050, 4, 8),
      currentPeriodEnd: utc(2050, 5, 8),
      priceAmount: 2000,
    });
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([2400]);
  });

  it('renews a Jan 31 anchor on Feb 29 (leap year), then Mar 31', async () => {
    const start = new Date('2048-01-31T10:00:00.000Z');
    clock = start;
    const { actor, subscription } = await subscriber(plans.basic);
    expect(subscription.currentPeriodEnd).toEqual(new Date('2048-02-29T10:00:00.000Z'));

    clock = new Date('2048-02-28T12:00:00.000Z');
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      currentPeriodStart: new Date('2048-01-31T10:00:00.000Z'),
      currentPeriodEnd: new Date('2048-02-29T10:00:00.000Z'),
    });
    clock = new Date('2048-02-29T10:00:00.000Z');
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      currentPeriodStart: new Date('2048-02-29T10:00:00.000Z'),
      currentPeriodEnd: new Date('2048-03-31T10:00:00.000Z'),
    });

    clock = new Date('2048-03-30T12:00:00.000Z');
    await runtime.runDueWork();
    expect((await onlySubscription(actor)).currentPeriodEnd).toEqual(new Date('2048-03-31T10:00:00.000Z'));
    clock = new Date('2048-03-31T10:05:00.000Z');
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      currentPeriodStart: new Date('2048-03-31T10:00:00.000Z'),
      currentPeriodEnd: new Date('2048-04-30T10:00:00.000Z'),
    });
    const renewals = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
    expect(renewals.map((invoice) => [invoice.status, invoice.periodEnd?.toISOString()])).toEqual([
      ['PAID', '2048-03-31T10:00:00.000Z'],
      ['PAID', '2048-04-30T10:00:00.000Z'],
    ]);
  });
});

describe('dunning', () => {
  it('retries a failed renewal after 1, 3 and 7 days, then suspends to the free plan’s limits', async () => {
    clock = utc(2047, 4);
    const { actor, subscription } = await subscriber(plans.basic);
    fake.forceNextCharges(await customerIdOf(actor), 4, {
      kind: 'decline',
      declineCode: 'insufficient_funds',
    });

    const failedAt = new Date(utc(2047, 5).getTime() - HOUR);
    clock = failedAt;
    await runtime.runDueWork();
    const renewal = (await invoicesOf(actor, 'SUBSCRIPTION_CYCLE'))[0]!;
    const paymentOf = () => db.prisma.payment.findFirstOrThrow({ where: { invoiceId: renewal.id } });
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'PAST_DUE',
      currentPeriodEnd: utc(2047, 5),
    });
    expect(await paymentOf()).toMatchObject({
      status: 'FAILED',
      attemptCount: 1,
      nextAttemptAt: new Date(failedAt.getTime() + DAY),
    });
    await waitFor(async () => (await mailCount(actor, 'payment-failed')) === 1, {
      what: 'first failure mail',
    });

    // Not before it is due.
    clock = new Date(failedAt.getTime() + DAY - MINUTE);
    await runtime.runDueWork();
    expect((await paymentOf()).attemptCount).toBe(1);

    let at = failedAt.getTime();
    for (const [attempt, days] of [
      [2, 1],
      [3, 3],
      [4, 7],
    ] as const) {
      at += days * DAY;
      clock = new Date(at);
      await runtime.runDueWork();
      const payment = await paymentOf();
      expect(payment).toMatchObject({ status: 'FAILED', attemptCount: attempt });
      const nextDays = { 2: 3, 3: 7, 4: null }[attempt];
      expect(payment.nextAttemptAt).toEqual(nextDays === null ? null : new Date(at + nextDays * DAY));
      expect((await onlySubscription(actor)).status).toBe(attempt === 4 ? 'SUSPENDED' : 'PAST_DUE');
    }
    expect(await intentsOf(actor)).toHaveLength(5);
    await waitFor(async () => (await mailCount(actor, 'payment-failed')) === 4, {
      what: 'four failure mails',
    });
    await waitFor(async () => (await mailCount(actor, 'subscription-suspended')) === 1, {
      what: 'the suspension mail',
    });

    // Suspended: the free plan's limits apply.
    const free = await db.prisma.subscriptionPlan.findUniqueOrThrow({ where: { id: plans.free } });
    const freeLimits = free.limits as Record<string, number | null>;
    const suspended = (await runtime.lifecycle.current(actor.actorUserId))!;
    expect(suspended).toMatchObject({ id: subscription.id, status: 'SUSPENDED' });
    const quotas = await runtime.services.usage.quotasOf(suspended);
    expect(Object.fromEntries(quotas.map((quota) => [quota.key, quota.limit]))).toEqual(freeLimits);
    const report = await runtime.services.usage.record(actor, { metric: 'api_calls', quantity: 1 });
    expect(report).toMatchObject({ limit: freeLimits.api_calls, used: 1 });

    // Nothing more is attempted.
    clock = new Date(at + 30 * DAY);
    await runtime.runDueWork();
    expect(await intentsOf(actor)).toHaveLength(5);
  });

  it('recovers on the third attempt after two failures: ACTIVE, period advanced', async () => {
    clock = utc(2046, 4);
    const { actor } = await subscriber(plans.basic);
    fake.forceNextCharges(await customerIdOf(actor), 2, { kind: 'decline' });

    const failedAt = new Date(utc(2046, 5).getTime() - HOUR);
    clock = failedAt;
    await runtime.runDueWork();
    expect((await onlySubscription(actor)).status).toBe('PAST_DUE');
    clock = new Date(failedAt.getTime() + DAY);
    await runtime.runDueWork();
    expect((await onlySubscription(actor)).status).toBe('PAST_DUE');
    clock = new Date(failedAt.getTime() + 4 * DAY);
    await runtime.runDueWork();

    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      currentPeriodStart: utc(2046, 5),
      currentPeriodEnd: utc(2046, 6),
    });
    const [renewal, ...others] = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
    expect(others).toEqual([]);
    expect(renewal).toMatchObject({ status: 'PAID', amountPaid: 1200 });
    expect(await db.prisma.payment.findFirstOrThrow({ where: { invoiceId: renewal!.id } })).toMatchObject({
      status: 'SUCCEEDED',
      attemptCount: 3,
      nextAttemptAt: null,
    });
    expect((await intentsOf(actor)).map((pi) => pi.status)).toEqual([
      'succeeded',
      'requires_payment_method',
      'requires_payment_method',
      'succeeded',
    ]);
    await waitFor(async () => (await mailCount(actor, 'payment-failed')) === 2, {
      what: 'two failure mails',
    });

    // The next renewal is a normal one.
    clock = new Date(utc(2046, 6).getTime() - HOUR);
    await runtime.runDueWork();
    expect((await invoicesOf(actor, 'SUBSCRIPTION_CYCLE')).map((invoice) => invoice.status)).toEqual([
      'PAID',
      'PAID',
    ]);
    expect((await onlySubscription(actor)).currentPeriodEnd).toEqual(utc(2046, 6));
    clock = utc(2046, 6);
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      currentPeriodStart: utc(2046, 6),
      currentPeriodEnd: utc(2046, 7),
    });
  });

  it('retries the open renewal at once when a past-due user adds a card', async () => {
    clock = utc(2045, 4);
    const { actor } = await subscriber(plans.basic);
    fake.forceNextCharges(await customerIdOf(actor), 1, { kind: 'decline' });
    clock = new Date(utc(2045, 5).getTime() - HOUR);
    await runtime.runDueWork();
    expect((await onlySubscription(actor)).status).toBe('PAST_DUE');

    clock = new Date(clock.getTime() + 2 * HOUR); // long before the +1 day retry
    await runtime.services.paymentMethods.add(actor, 'pm_card_mastercard');
    expect(await onlySubscription(actor)).toMatchObject({ status: 'ACTIVE', currentPeriodEnd: utc(2045, 6) });
    const [renewal] = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
    expect(renewal).toMatchObject({ status: 'PAID', paidAt: clock });
    expect((await intentsOf(actor)).map((pi) => pi.status)).toEqual([
      'succeeded',
      'requires_payment_method',
      'succeeded',
    ]);
  });

  it('charges the card a past-due user just added, not the default card that keeps failing', async () => {
    clock = utc(2044, 4);
    const { actor } = await subscriber(plans.basic);
    const oldCard = await db.prisma.paymentMethod.findFirstOrThrow({ where: { userId: actor.actorUserId } });
    // The old card keeps failing from now on.
    fake.forceNextCharges(oldCard.providerPaymentMethodId, 10, {
      kind: 'decline',
      declineCode: 'expired_card',
    });

    clock = new Date(utc(2044, 5).getTime() - HOUR);
    await runtime.runDueWork();
    expect((await onlySubscription(actor)).status).toBe('PAST_DUE');

    clock = new Date(clock.getTime() + 2 * HOUR);
    const added = await runtime.services.paymentMethods.add(actor, 'pm_card_mastercard');
    expect(await onlySubscription(actor)).toMatchObject({ status: 'ACTIVE', currentPeriodEnd: utc(2044, 6) });
    const [renewal] = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
    expect(renewal?.status).toBe('PAID');
    const newCard = await db.prisma.paymentMethod.findUniqueOrThrow({ where: { id: added.id } });
    const intents = await intentsOf(actor);
    expect(intents.map((pi) => [pi.payment_method, pi.status])).toEqual([
      [oldCard.providerPaymentMethodId, 'succeeded'],
      [oldCard.providerPaymentMethodId, 'requires_payment_method'],
      [newCard.providerPaymentMethodId, 'succeeded'],
    ]);
  });
});

describe('events', () => {
  it('publishes subscription and payment events on the billing topic', async () => {
    const received: BillingBusEvent[] = [];
    const unsubscribe = await runtime.events.subscribe<BillingBusEvent>(BILLING_EVENTS_TOPIC, (event) => {
      received.push(event);
    });
    try {
      clock = utc(2043, 4);
      const { actor, subscription } = await subscriber(plans.basic);
      const mine = () => received.filter((event) => event.userId === actor.actorUserId);
      const types = () =>
        mine()
          .map((event) => `${event.type}:${String(event.data.status ?? '')}`)
          .sort();

      await waitFor(() => mine().length === 2, { what: 'subscribe events' });
      expect(types()).toEqual(['payment.succeeded:SUCCEEDED', 'subscription.created:ACTIVE']);
      expect(mine().find((event) => event.type === 'subscription.created')?.data).toEqual({
        subscriptionId: subscription.id,
        status: 'ACTIVE',
        planId: plans.basic,
      });

      received.length = 0;
      clock = utc(2043, 4, 5);
      await runtime.lifecycle.cancel(actor);
      await runtime.lifecycle.resume(actor);
      await waitFor(() => mine().length === 2, { what: 'cancel and resume events' });
      expect(types()).toEqual(['subscription.canceled:ACTIVE', 'subscription.updated:ACTIVE']);

      received.length = 0;
      fake.forceNextCharges(await customerIdOf(actor), 1, { kind: 'decline' });
      const failedAt = new Date(utc(2043, 5).getTime() - HOUR);
      clock = failedAt;
      await runtime.runDueWork();
      await waitFor(() => mine().length === 2, { what: 'renewal failure events' });
      expect(types()).toEqual(['payment.failed:FAILED', 'subscription.updated:PAST_DUE']);

      received.length = 0;
      clock = new Date(failedAt.getTime() + DAY);
      await runtime.runDueWork();
      await waitFor(() => mine().length === 2, { what: 'recovery events' });
      expect(types()).toEqual(['payment.succeeded:SUCCEEDED', 'subscription.updated:ACTIVE']);
    } finally {
      await unsubscribe();
    }
  });
});

describe('payments the provider settles later (processing)', () => {
  let receiver: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    receiver = await serveRoute(runtime.routes[0]!);
  });
  afterAll(async () => {
    await receiver?.close();
  });

  async function settle(actor: BillingActor, outcome: 'succeeded' | { declineCode: string }) {
    const intent = (await intentsOf(actor)).at(-1)!;
    expect(intent.status).toBe('processing');
    const event = fake.settlePaymentIntent(intent.id, outcome);
    expect((await fake.sendEvent(`${receiver.url}${STRIPE_WEBHOOK_PATH}`, event)).status).toBe(200);
  }

  it('keeps a new subscription INCOMPLETE until the payment succeeds, then activates it', async () => {
    clock = utc(2042, 4);
    const actor = await userWithCard();
    fake.forceNextCharges(await customerIdOf(actor), 1, { kind: 'processing' });
    const subscription = await runtime.lifecycle.subscribe(actor, plans.basic);
    expect(subscription.status).toBe('INCOMPLETE');
    expect((await invoicesOf(actor))[0]?.status).toBe('OPEN');

    await settle(actor, 'succeeded');
    expect(await onlySubscription(actor)).toMatchObject({ status: 'ACTIVE', endedAt: null });
    expect((await invoicesOf(actor))[0]).toMatchObject({ status: 'PAID', amountPaid: 1200 });
  });

  it('ends a new subscription whose processing payment fails, voids its invoice, and allows a new one', async () => {
    clock = utc(2041, 4);
    const actor = await userWithCard();
    fake.forceNextCharges(await customerIdOf(actor), 1, { kind: 'processing' });
    await runtime.lifecycle.subscribe(actor, plans.basic);

    await settle(actor, { declineCode: 'insufficient_funds' });
    expect(await onlySubscription(actor)).toMatchObject({ status: 'CANCELED', endedAt: clock });
    expect((await invoicesOf(actor))[0]?.status).toBe('VOID');
    const audit = await db.prisma.auditLog.count({
      where: { actorUserId: actor.actorUserId, action: 'SUBSCRIPTION_PAYMENT_FAILED' },
    });
    expect(audit).toBe(1);

    clock = utc(2041, 4, 2);
    await runtime.runDueWork();
    expect(await intentsOf(actor)).toHaveLength(1);
    expect(await runtime.lifecycle.subscribe(actor, plans.basic)).toMatchObject({ status: 'ACTIVE' });
  });

  it('switches plans on a processing upgrade only when the payment succeeds', async () => {
    clock = utc(2040, 4);
    const { actor } = await subscriber(plans.basic);
    fake.forceNextCharges(await customerIdOf(actor), 1, { kind: 'processing' });
    clock = utc(2040, 4, 16);
    const result = await runtime.lifecycle.changePlan(actor, plans.premium);
    expect(result.subscription).toMatchObject({ planId: plans.basic, priceAmount: 1000 });
    const [update] = await invoicesOf(actor, 'SUBSCRIPTION_UPDATE');
    expect(update).toMatchObject({ id: result.invoiceId, status: 'OPEN', totalAmount: 1200 });

    await settle(actor, 'succeeded');
    expect(await onlySubscription(actor)).toMatchObject({ planId: plans.premium, priceAmount: 3000 });
    expect((await invoicesOf(actor, 'SUBSCRIPTION_UPDATE'))[0]?.status).toBe('PAID');
  });
});

describe('the early-renewal window (renewal paid, period not started)', () => {
  /** Subscribes to basic on 1 April of `year` and lets the renewal job charge May 12 h before it starts. */
  async function paidEarly(year: number) {
    clock = utc(year, 4);
    const { actor } = await subscriber(plans.basic);
    clock = new Date(utc(year, 5).getTime() - 12 * HOUR);
    await runtime.runDueWork();
    const [renewal, ...others] = await invoicesOf(actor, 'SUBSCRIPTION_CYCLE');
    expect(others).toEqual([]);
    expect(renewal).toMatchObject({ status: 'PAID', periodStart: utc(year, 5) });
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      currentPeriodStart: utc(year, 4),
      currentPeriodEnd: utc(year, 5),
    });
    return { actor, renewal: renewal! };
  }

  it('refuses a plan change once the next period was paid (it would be billed at the old price): RENEWAL_IN_PROGRESS', async () => {
    const { actor } = await paidEarly(2039);
    await expect(runtime.lifecycle.changePlan(actor, plans.premium)).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      details: { reason: 'RENEWAL_IN_PROGRESS', retryAt: utc(2039, 5).toISOString() },
    });
    expect(await invoicesOf(actor, 'SUBSCRIPTION_UPDATE')).toEqual([]);
    expect(await onlySubscription(actor)).toMatchObject({
      planId: plans.basic,
      currentPeriodEnd: utc(2039, 5),
    });
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([1200, 1200]);
  });

  it('keeps a paid renewal when the subscription is canceled in the window: access until the paid period ends', async () => {
    const { actor } = await paidEarly(2034);
    const canceled = await runtime.lifecycle.cancel(actor);
    expect(canceled.cancelAtPeriodEnd).toBe(true);
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: 'SUBSCRIPTION_CANCELED', targetId: canceled.id },
    });
    expect(audit.metadata).toMatchObject({ accessUntil: utc(2034, 6).toISOString() });
  });

  it('refuses a plan change after the period ended but before the job moved it: RENEWAL_IN_PROGRESS', async () => {
    const { actor } = await paidEarly(2038);
    clock = new Date(utc(2038, 5).getTime() + MINUTE);
    await expect(runtime.lifecycle.changePlan(actor, plans.premium)).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      details: { reason: 'RENEWAL_IN_PROGRESS' },
    });
    expect(await invoicesOf(actor, 'SUBSCRIPTION_UPDATE')).toEqual([]);
    expect(await onlySubscription(actor)).toMatchObject({
      planId: plans.basic,
      currentPeriodEnd: utc(2038, 5),
    });

    // Once the job moved it, the change prorates on the new period (31 days, 60 s in: rounds to the whole).
    await runtime.runDueWork();
    const result = await runtime.lifecycle.changePlan(actor, plans.premium);
    expect(result.subscription).toMatchObject({
      planId: plans.premium,
      currentPeriodStart: utc(2038, 5),
      currentPeriodEnd: utc(2038, 6),
    });
    expect((await invoicesOf(actor, 'SUBSCRIPTION_UPDATE'))[0]).toMatchObject({
      status: 'PAID',
      subtotalAmount: 2000,
      totalAmount: 2400,
    });
  });

  it('counts usage recorded in the window against the current period', async () => {
    const { actor } = await paidEarly(2037);
    const report = await runtime.services.usage.record(actor, { metric: 'api_calls', quantity: 5 });
    expect(report).toMatchObject({ used: 5, limit: 500_000, resetsAt: utc(2037, 5) });
    const quota = async () =>
      (await runtime.services.usage.quotasOf((await runtime.lifecycle.current(actor.actorUserId))!)).find(
        (row) => row.key === 'api_calls',
      );
    expect(await quota()).toMatchObject({ used: 5, limit: 500_000, resetsAt: utc(2037, 5) });
    const rows = await db.prisma.usageRecord.findMany({
      where: { subscription: { userId: actor.actorUserId } },
    });
    expect(rows.map((row) => row.periodStart)).toEqual([utc(2037, 4)]);

    // The new period starts with a fresh counter.
    clock = utc(2037, 5);
    await runtime.runDueWork();
    expect(await quota()).toMatchObject({ used: 0, limit: 500_000, resetsAt: utc(2037, 6) });
  });

  it('a past-due user who adds a card in the window is ACTIVE at once and moves when the period starts', async () => {
    clock = utc(2036, 4);
    const { actor } = await subscriber(plans.basic);
    fake.forceNextCharges(await customerIdOf(actor), 1, { kind: 'decline' });
    clock = new Date(utc(2036, 5).getTime() - 12 * HOUR);
    await runtime.runDueWork();
    expect((await onlySubscription(actor)).status).toBe('PAST_DUE');

    clock = new Date(clock.getTime() + HOUR);
    await runtime.services.paymentMethods.add(actor, 'pm_card_mastercard');
    expect((await invoicesOf(actor, 'SUBSCRIPTION_CYCLE'))[0]).toMatchObject({
      status: 'PAID',
      paidAt: clock,
    });
    expect(await onlySubscription(actor)).toMatchObject({ status: 'ACTIVE', currentPeriodEnd: utc(2036, 5) });

    clock = utc(2036, 5);
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      currentPeriodStart: utc(2036, 5),
      currentPeriodEnd: utc(2036, 6),
    });
    expect((await intentsOf(actor)).map((pi) => pi.status)).toEqual([
      'succeeded',
      'requires_payment_method',
      'succeeded',
    ]);
  });

  it('a cancel after the renewal was paid keeps the paid period, then ends', async () => {
    const { actor } = await paidEarly(2035);
    await runtime.lifecycle.cancel(actor);

    clock = new Date(utc(2035, 5).getTime() + MINUTE);
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({
      status: 'ACTIVE',
      cancelAtPeriodEnd: true,
      endedAt: null,
      currentPeriodStart: utc(2035, 5),
      currentPeriodEnd: utc(2035, 6),
    });

    clock = new Date(utc(2035, 6).getTime() + MINUTE);
    await runtime.runDueWork();
    expect(await onlySubscription(actor)).toMatchObject({ status: 'CANCELED', endedAt: clock });
    expect(await invoicesOf(actor, 'SUBSCRIPTION_CYCLE')).toHaveLength(1);
    expect((await intentsOf(actor)).map((pi) => pi.amount)).toEqual([1200, 1200]);
  });
});
