// Issue #7 through the gateway: the plan catalog and its administration, a subscription from trial to a paid,
// invoiced period (PDF through /files/), usage quotas over GraphQL and over REST with an API key, plan changes,
// Stripe's webhooks (signed, applied exactly once) and signed outbound webhooks. Stripe is a local fake speaking
// its API; billing's clock is injected and moved by the test, renewals run through `billing.runDueWork()`.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seed } from '@gatehouse/db';
import { postGraphQL } from '@gatehouse/service/testing';
import { startFakeStripe, waitFor, type FakeStripe } from '@gatehouse/testing';
import { verifyWebhookSignature } from '../../subgraphs/billing/src/outbound-webhooks';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const DAY_MS = 24 * 60 * 60 * 1000;
/** Billing's clock: whole seconds (Retry-After and proration are computed from it exactly). */
let clock = new Date(Math.floor(Date.now() / 1000) * 1000);
const t0 = clock;

let supergraph: Supergraph;
let stripe: FakeStripe;
let origin: string;
const ids = { admin: '', alice: '', bob: '' };
const tokens = { admin: '', alice: '', bob: '' };
/** Shared by the steps below, which run in order: each builds on the state the previous one left. */
const state = {
  proId: '',
  businessId: '',
  teamId: '',
  alicePaymentMethodId: '',
  periodStart: '',
  periodEnd: '',
};

beforeAll(async () => {
  stripe = await startFakeStripe();
  supergraph = await startSupergraph({
    identityEnv: {
      STRIPE_SECRET_KEY: stripe.secretKey,
      STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      STRIPE_API_BASE: stripe.baseUrl,
      BILLING_TAX_RATE_BPS: '2000',
    },
    billingNow: () => clock,
    seed: async (prisma) => {
      const summary = await seed(prisma, {
        adminEmail: 'admin@example.test',
        adminPassword: 'not used by this test',
        hashPassword: async () => 'not-a-real-hash',
      });
      ids.admin = summary.admin.id;
      const member = await prisma.role.findUniqueOrThrow({ where: { name: 'member' } });
      for (const name of ['alice', 'bob'] as const) {
        ids[name] = (
          await prisma.user.create({
            data: {
              email: `${name}@example.test`,
              status: 'ACTIVE',
              emailVerified: true,
              roles: { create: { roleId: member.id } },
            },
          })
        ).id;
      }
    },
  });
  origin = supergraph.gateway.url;
  // No permission claims: every billing rule reads the live permissions (the seeded admin role has billing:manage).
  tokens.admin = await supergraph.signer.sign({ userId: ids.admin, roles: ['admin'] });
  tokens.alice = await supergraph.signer.sign({
    userId: ids.alice,
    email: 'alice@example.test',
    roles: ['member'],
  });
  tokens.bob = await supergraph.signer.sign({
    userId: ids.bob,
    email: 'bob@example.test',
    roles: ['member'],
  });
});

afterAll(async () => {
  await supergraph?.close();
  await stripe?.close();
});

type GraphQLError = { message: string; extensions?: { code?: string; details?: unknown } };
type Body<T> = { data?: T | null; errors?: GraphQLError[] };
const gql = async <T = Record<string, unknown>>(query: string, variables: object = {}, token?: string) =>
  (
    await postGraphQL<T>(supergraph.graphqlUrl, query, {
      variables: variables as Record<string, unknown>,
      ...(token ? { token } : {}),
    })
  ).body as Body<T>;
/** The data of an operation that must succeed (its errors in the failure message otherwise). */
const ok = async <T = Record<string, unknown>>(query: string, variables: object = {}, token?: string) => {
  const body = await gql<T>(query, variables, token);
  expect(body.errors).toBeUndefined();
  return body.data as T;
};
const codeOf = (body: Body<unknown>) => body.errors?.[0]?.extensions?.code;

const postUsage = (key: string, body: object) =>
  fetch(`${origin}/billing/usage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

type Plan = { id: string; code: string; version: number; active: boolean; price: { amount: number } };
const PLAN_FIELDS =
  'id code name version active interval trialDays price { amount currency } limits { key value }';

it('serves the plan catalog to anyone and lets only billing:manage holders create, edit and archive plans', async () => {
  const catalog = await ok<{ plans: Plan[] }>(`{ plans { ${PLAN_FIELDS} } }`);
  expect(catalog.plans.map((plan) => plan.code)).toEqual(['free', 'pro', 'business']);
  state.proId = catalog.plans.find((plan) => plan.code === 'pro')!.id;
  state.businessId = catalog.plans.find((plan) => plan.code === 'business')!.id;
  expect((await ok<{ plans: Plan[] }>(`{ plans(interval: YEAR) { id } }`)).plans).toEqual([]);

  const CREATE = `mutation($i: CreatePlanInput!) { createPlan(input: $i) { ${PLAN_FIELDS} } }`;
  const team = {
    code: 'team-yearly',
    name: 'Team',
    priceAmount: 15000,
    currency: 'usd',
    interval: 'YEAR',
    features: ['webhooks'],
    limits: [{ key: 'api_calls', value: 5000 }],
  };
  const refused = await gql(CREATE, { i: team }, tokens.alice);
  expect(codeOf(refused)).toBe('FORBIDDEN');
  expect(refused.data ?? null).toBeNull();

  const created = await ok<{ createPlan: Plan }>(CREATE, { i: team }, tokens.admin);
  expect(created.createPlan).toMatchObject({
    code: 'team-yearly',
    version: 1,
    active: true,
    interval: 'YEAR',
    trialDays: 0,
    price: { amount: 15000, currency: 'USD' },
    limits: [{ key: 'api_calls', value: 5000 }],
  });
  state.teamId = created.createPlan.id;

  const updated = await ok<{ updatePlan: Plan }>(
    `mutation($id: ID!, $i: UpdatePlanInput!) { updatePlan(id: $id, input: $i) { ${PLAN_FIELDS} } }`,
    { id: state.teamId, i: { name: 'Team (yearly)', priceAmount: 12000 } },
    tokens.admin,
  );
  expect(updated.updatePlan).toMatchObject({ name: 'Team (yearly)', version: 2, price: { amount: 12000 } });

  const legacy = await ok<{ createPlan: Plan }>(
    CREATE,
    { i: { code: 'legacy', name: 'Legacy', priceAmount: 500, currency: 'USD', interval: 'YEAR' } },
    tokens.admin,
  );
  const archived = await ok<{ archivePlan: Plan }>(
    `mutation($id: ID!) { archivePlan(id: $id) { id active } }`,
    { id: legacy.createPlan.id },
    tokens.admin,
  );
  expect(archived.archivePlan).toEqual({ id: legacy.createPlan.id, active: false });

  // Anonymous again: the yearly filter now finds the edited plan, and never the archived one.
  const yearly = await ok<{ plans: Plan[] }>(`{ plans(interval: YEAR) { code version price { amount } } }`);
  expect(yearly.plans).toEqual([{ code: 'team-yearly', version: 2, price: { amount: 12000 } }]);
  const all = await ok<{ plans: Plan[] }>(`{ plans { code } }`);
  expect(all.plans.map((plan) => plan.code)).toEqual(['free', 'pro', 'team-yearly', 'business']);
});

type Subscription = {
  status: string;
  plan: { code: string };
  price: { amount: number; currency: string };
  currentPeriodStart: string;
  currentPeriodEnd: string;
  trialEndsAt: string | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: string | null;
  usage: { key: string; used: number; limit: number | null; percent: number | null; resetsAt: string }[];
};
const SUBSCRIPTION_FIELDS = `status plan { code } price { amount currency } currentPeriodStart currentPeriodEnd
  trialEndsAt cancelAtPeriodEnd canceledAt usage { key used limit percent resetsAt }`;
const INVOICE_FIELDS = `id number status billingReason taxRateBps subtotal { amount } tax { amount } total { amount }
  amountPaid { amount } amountDue { amount } creditApplied { amount }
  lines { kind description quantity unitAmount { amount currency } amount { amount } }`;

it('subscribes with a saved card: trial, then a paid period with a numbered invoice whose PDF only its owner gets', async () => {
  const added = await ok<{
    addPaymentMethod: { id: string; brand: string; last4: string; isDefault: boolean };
  }>(
    `mutation { addPaymentMethod(paymentMethodToken: "pm_card_visa") { id brand last4 isDefault } }`,
    {},
    tokens.alice,
  );
  expect(added.addPaymentMethod).toMatchObject({ brand: 'visa', last4: '4242', isDefault: true });
  state.alicePaymentMethodId = added.addPaymentMethod.id;

  // Pro has a 14-day trial: nothing is charged yet.
  const subscribed = await ok<{ subscribe: Subscription }>(
    `mutation($p: ID!, $m: ID) { subscribe(planId: $p, paymentMethodId: $m) { ${SUBSCRIPTION_FIELDS} } }`,
    { p: state.proId, m: state.alicePaymentMethodId },
    tokens.alice,
  );
  const trialEnd = new Date(t0.getTime() + 14 * DAY_MS);
  expect(subscribed.subscribe).toMatchObject({
    status: 'TRIALING',
    plan: { code: 'pro' },
    trialEndsAt: trialEnd.toISOString(),
    currentPeriodEnd: trialEnd.toISOString(),
  });
  expect(stripe.paymentIntents.size).toBe(0);

  // The trial is over: the renewal job invoices the first paid period and charges the saved card.
  clock = new Date(trialEnd.getTime() + 60 * 60 * 1000);
  await supergraph.billing.runDueWork();
  expect(stripe.paymentIntents.size).toBe(1);

  await ok(`mutation { recordUsage(metric: "api_calls", quantity: 250000) { used } }`, {}, tokens.alice);
  const mine = await ok<{ mySubscription: Subscription }>(
    `{ mySubscription { ${SUBSCRIPTION_FIELDS} } }`,
    {},
    tokens.alice,
  );
  const sub = mine.mySubscription;
  expect(sub).toMatchObject({
    status: 'ACTIVE',
    plan: { code: 'pro' },
    price: { amount: 2900, currency: 'USD' },
    currentPeriodStart: trialEnd.toISOString(),
    cancelAtPeriodEnd: false,
  });
  expect(new Date(sub.currentPeriodEnd).getTime()).toBeGreaterThan(clock.getTime() + 27 * DAY_MS);
  state.periodStart = sub.currentPeriodStart;
  state.periodEnd = sub.currentPeriodEnd;
  expect(sub.usage).toEqual(
    expect.arrayContaining([
      { key: 'api_calls', used: 250000, limit: 1000000, percent: 25, resetsAt: sub.currentPeriodEnd },
      { key: 'monthly_active_users', used: 0, limit: 10000, percent: 0, resetsAt: sub.currentPeriodEnd },
    ]),
  );

  type Invoice = { id: string; number: string; status: string; lines: unknown[]; downloadUrl?: string };
  const invoices = await ok<{
    myInvoices: { edges: { node: Invoice }[]; pageInfo: { hasNextPage: boolean } };
  }>(`{ myInvoices { edges { node { ${INVOICE_FIELDS} } } pageInfo { hasNextPage } } }`, {}, tokens.alice);
  expect(invoices.myInvoices.pageInfo.hasNextPage).toBe(false);
  expect(invoices.myInvoices.edges).toHaveLength(1);
  const invoice = invoices.myInvoices.edges[0]!.node;
  expect(invoice).toMatchObject({
    number: `GH-${clock.getUTCFullYear()}-000001`,
    status: 'PAID',
    billingReason: 'SUBSCRIPTION_CYCLE',
    taxRateBps: 2000,
    subtotal: { amount: 2900 },
    tax: { amount: 580 },
    total: { amount: 3480 },
    amountPaid: { amount: 3480 },
    amountDue: { amount: 0 },
    creditApplied: { amount: 0 },
    lines: [
      {
        kind: 'SUBSCRIPTION',
        description: expect.stringContaining('Pro') as unknown,
        quantity: 1,
        unitAmount: { amount: 2900, currency: 'USD' },
        amount: { amount: 2900 },
      },
    ],
  });
  const paid = await ok<{ myInvoices: { edges: unknown[] } }>(
    `{ myInvoices(status: OPEN) { edges { node { id } } } }`,
    {},
    tokens.alice,
  );
  expect(paid.myInvoices.edges).toEqual([]);

  const INVOICE = `query($id: ID!) { invoice(id: $id) { id number downloadUrl } }`;
  const own = await ok<{ invoice: Invoice }>(INVOICE, { id: invoice.id }, tokens.alice);
  expect(own.invoice.downloadUrl).toMatch(new RegExp(`^${origin}/files/`));
  const pdf = await fetch(own.invoice.downloadUrl!);
  expect(pdf.status).toBe(200);
  expect(
    Buffer.from(await pdf.arrayBuffer())
      .subarray(0, 4)
      .toString('latin1'),
  ).toBe('%PDF');

  // Someone else's invoice does not exist for Bob.
  expect(await ok(INVOICE, { id: invoice.id }, tokens.bob)).toEqual({ invoice: null });
  expect(await ok(`{ myInvoices { edges { node { id } } } }`, {}, tokens.bob)).toEqual({
    myInvoices: { edges: [] },
  });
});

it('refuses usage over the plan limit, over GraphQL and over REST with an API key (429, Retry-After)', async () => {
  const RECORD = `mutation($q: Int!) { recordUsage(metric: "api_calls", quantity: $q) { metric used limit remaining } }`;
  const near = await ok<{ recordUsage: unknown }>(RECORD, { q: 749_990 }, tokens.alice);
  expect(near.recordUsage).toEqual({ metric: 'api_calls', used: 999_990, limit: 1_000_000, remaining: 10 });
  const over = await gql(RECORD, { q: 11 }, tokens.alice);
  expect(codeOf(over)).toBe('QUOTA_EXCEEDED');

  const created = await ok<{
    createApiKey: { key: string; apiKey: { id: string; prefix: string; scopes: string[] } };
  }>(`mutation { createApiKey(name: "billing e2e") { key apiKey { id prefix scopes } } }`, {}, tokens.alice);
  const { key, apiKey } = created.createApiKey;
  expect(apiKey.scopes).toEqual(['usage:write']);
  expect(key.startsWith(`gh_${apiKey.prefix}_`)).toBe(true);

  const accepted = await postUsage(key, { metric: 'api_calls', quantity: 4 });
  expect(accepted.status).toBe(200);
  expect(await accepted.json()).toMatchObject({ metric: 'api_calls', used: 999_994, remaining: 6 });

  const refused = await postUsage(key, { metric: 'api_calls', quantity: 7 });
  expect(refused.status).toBe(429);
  const secondsLeft = Math.ceil((new Date(state.periodEnd).getTime() - clock.getTime()) / 1000);
  expect(refused.headers.get('retry-after')).toBe(String(secondsLeft));
  expect(await refused.json()).toMatchObject({ error: 'QUOTA_EXCEEDED' });

  // What was refused was not counted: the last 6 still fit.
  expect((await postUsage(key, { metric: 'api_calls', quantity: 6 })).status).toBe(200);

  const revoked = await ok<{ revokeApiKey: { revokedAt: string | null } }>(
    `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`,
    { id: apiKey.id },
    tokens.alice,
  );
  expect(revoked.revokeApiKey.revokedAt).not.toBeNull();
  const unauthorized = await postUsage(key, { metric: 'api_calls', quantity: 1 });
  expect(unauthorized.status).toBe(401);
  expect(await unauthorized.json()).toMatchObject({ error: 'UNAUTHENTICATED' });
});

it('upgrades with a prorated invoice charged at once, then cancels at period end and resumes', async () => {
  // A third of the way through the paid period (whole seconds).
  const start = clock.getTime();
  clock = new Date(start + Math.floor((new Date(state.periodEnd).getTime() - start) / 3000) * 1000);
  const changed = await ok<{
    changePlan: {
      subscription: { plan: { code: string }; price: { amount: number } };
      credit: { amount: number };
      invoice: {
        status: string;
        billingReason: string;
        subtotal: { amount: number };
        tax: { amount: number };
        total: { amount: number };
        lines: { kind: string; amount: { amount: number } }[];
      } | null;
    };
  }>(
    `mutation($p: ID!) { changePlan(planId: $p) { subscription { plan { code } price { amount } } credit { amount }
      invoice { ${INVOICE_FIELDS} } } }`,
    { p: state.businessId },
    tokens.alice,
  );
  const { subscription, invoice } = changed.changePlan;
  expect(subscription).toEqual({ plan: { code: 'business' }, price: { amount: 29900 } });
  expect(changed.changePlan.credit.amount).toBe(0);
  expect(invoice).toMatchObject({ status: 'PAID', billingReason: 'SUBSCRIPTION_UPDATE' });
  // docs/billing.md: to the second on the remaining part of the period, each amount rounded half-up on its own.
  const remainingSeconds = (new Date(state.periodEnd).getTime() - clock.getTime()) / 1000;
  const periodSeconds = (new Date(state.periodEnd).getTime() - new Date(state.periodStart).getTime()) / 1000;
  const prorated = (price: number) =>
    Math.floor((2 * price * remainingSeconds + periodSeconds) / (2 * periodSeconds));
  const credit = prorated(2900);
  const charge = prorated(29900);
  expect(invoice!.lines).toEqual([
    expect.objectContaining({ kind: 'PRORATION', amount: { amount: -credit } }),
    expect.objectContaining({ kind: 'PRORATION', amount: { amount: charge } }),
  ]);
  const tax = Math.floor(((charge - credit) * 2000 + 5000) / 10000);
  expect(invoice).toMatchObject({
    subtotal: { amount: charge - credit },
    tax: { amount: tax },
    total: { amount: charge - credit + tax },
    amountDue: { amount: 0 },
  });
  expect(stripe.paymentIntents.size).toBe(2);
  expect([...stripe.paymentIntents.values()].at(-1)).toMatchObject({
    amount: invoice!.total.amount,
    status: 'succeeded',
  });

  const canceled = await ok<{ cancelSubscription: Subscription }>(
    `mutation { cancelSubscription { status cancelAtPeriodEnd canceledAt currentPeriodEnd } }`,
    {},
    tokens.alice,
  );
  expect(canceled.cancelSubscription).toEqual({
    status: 'ACTIVE',
    cancelAtPeriodEnd: true,
    canceledAt: clock.toISOString(),
    currentPeriodEnd: state.periodEnd,
  });
  const resumed = await ok<{ resumeSubscription: Subscription }>(
    `mutation { resumeSubscription { status cancelAtPeriodEnd canceledAt } }`,
    {},
    tokens.alice,
  );
  expect(resumed.resumeSubscription).toEqual({
    status: 'ACTIVE',
    cancelAtPeriodEnd: false,
    canceledAt: null,
  });
});

it('applies a signed Stripe webhook through the gateway exactly once and refuses a bad signature', async () => {
  const payment = await supergraph.db.prisma.payment.findFirstOrThrow({
    where: { userId: ids.alice, status: 'SUCCEEDED' },
    orderBy: { createdAt: 'desc' },
  });
  const refund = stripe.refund(payment.providerPaymentId!);
  expect(refund.type).toBe('charge.refunded');
  const url = `${origin}/webhooks/stripe`;

  const forged = await stripe.sendEvent(url, refund, { secret: 'whsec_not_the_secret' });
  expect(forged.status).toBe(400);
  expect((await supergraph.db.prisma.payment.findUniqueOrThrow({ where: { id: payment.id } })).status).toBe(
    'SUCCEEDED',
  );

  const first = await stripe.sendEvent(url, refund);
  expect(first).toEqual({ status: 200, body: expect.stringContaining('"applied"') as unknown });
  const again = await stripe.sendEvent(url, refund);
  expect(again).toEqual({ status: 200, body: expect.stringContaining('"duplicate"') as unknown });

  expect((await supergraph.db.prisma.payment.findUniqueOrThrow({ where: { id: payment.id } })).status).toBe(
    'REFUNDED',
  );
  const audits = await supergraph.db.prisma.auditLog.count({
    where: { action: 'PAYMENT_REFUNDED', targetId: payment.id },
  });
  expect(audits).toBe(1);
  expect(await supergraph.db.prisma.processedProviderEvent.count({ where: { eventId: refund.id } })).toBe(1);
});

it('delivers a signed payment.succeeded event to the endpoint a customer registered', async () => {
  const received: { headers: Record<string, string | string[] | undefined>; body: Buffer }[] = [];
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  try {
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const created = await ok<{
      createWebhookEndpoint: { secret: string; endpoint: { id: string; events: string[] } };
    }>(
      `mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { id events } } }`,
      { i: { url: receiverUrl, events: ['payment.succeeded'], description: 'e2e receiver' } },
      tokens.bob,
    );
    const { secret, endpoint } = created.createWebhookEndpoint;
    expect(secret).toMatch(/^whsec_/);
    expect(endpoint.events).toEqual(['payment.succeeded']);
    // The secret is shown once: the endpoint type has no field for it.
    const listed = await ok<{ myWebhookEndpoints: object[] }>(
      `{ myWebhookEndpoints { id url } }`,
      {},
      tokens.bob,
    );
    expect(listed.myWebhookEndpoints).toEqual([{ id: endpoint.id, url: receiverUrl }]);

    // Bob pays for the yearly plan (no trial): 120.00 + 20 % tax.
    const card = await ok<{ addPaymentMethod: { id: string } }>(
      `mutation { addPaymentMethod(paymentMethodToken: "pm_card_mastercard") { id } }`,
      {},
      tokens.bob,
    );
    const subscribed = await ok<{ subscribe: { status: string } }>(
      `mutation($p: ID!, $m: ID) { subscribe(planId: $p, paymentMethodId: $m) { status } }`,
      { p: state.teamId, m: card.addPaymentMethod.id },
      tokens.bob,
    );
    expect(subscribed.subscribe.status).toBe('ACTIVE');

    const delivery = await waitFor(() => received[0], { timeoutMs: 15_000, what: 'a webhook delivery' });
    const header = delivery.headers['gatehouse-signature'];
    expect(typeof header).toBe('string');
    expect(verifyWebhookSignature(secret, header as string, delivery.body)).toMatchObject({ valid: true });
    expect(verifyWebhookSignature('whsec_other', header as string, delivery.body)).toEqual({
      valid: false,
      reason: 'signature-mismatch',
    });
    const payload = JSON.parse(delivery.body.toString('utf8')) as {
      type: string;
      data: Record<string, unknown>;
    };
    expect(payload).toMatchObject({
      type: 'payment.succeeded',
      data: { amount: 14400, currency: 'USD', status: 'SUCCEEDED' },
    });

    const log = await waitFor(
      async () => {
        const page = await ok<{ webhookDeliveries: { edges: { node: { status: string } }[] } }>(
          `query($e: ID!) { webhookDeliveries(endpointId: $e) { edges { node { eventType status attemptCount responseStatus } } } }`,
          { e: endpoint.id },
          tokens.bob,
        );
        const nodes = page.webhookDeliveries.edges.map((edge) => edge.node);
        return nodes.length > 0 && nodes.every((node) => node.status === 'DELIVERED') ? nodes : null;
      },
      { timeoutMs: 10_000, what: 'the delivery logged as delivered' },
    );
    expect(log).toEqual([
      { eventType: 'payment.succeeded', status: 'DELIVERED', attemptCount: 1, responseStatus: 204 },
    ]);
    // Alice's payments went to no endpoint of Bob's: one event, one delivery.
    expect(received).toHaveLength(1);
  } finally {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  }
});

it("lets an impersonating administrator look at billing but not spend the user's money", async () => {
  const started = await ok<{ impersonate: { accessToken: string } }>(
    `mutation($id: ID!) { impersonate(userId: $id, reason: "Ticket 7: billing question") { accessToken } }`,
    { id: ids.alice },
    tokens.admin,
  );
  const token = started.impersonate.accessToken;
  const look = await ok<{ mySubscription: { plan: { code: string } } }>(
    `{ mySubscription { plan { code } } }`,
    {},
    token,
  );
  expect(look.mySubscription.plan.code).toBe('business');

  const subscribe = await gql(
    `mutation($p: ID!) { subscribe(planId: $p) { status } }`,
    { p: state.proId },
    token,
  );
  expect(codeOf(subscribe)).toBe('FORBIDDEN');
  const card = await gql(
    `mutation { addPaymentMethod(paymentMethodToken: "pm_card_visa") { id } }`,
    {},
    token,
  );
  expect(codeOf(card)).toBe('FORBIDDEN');
  const cancel = await gql(`mutation { cancelSubscription { status } }`, {}, token);
  expect(codeOf(cancel)).toBe('FORBIDDEN');
  expect(await supergraph.db.prisma.paymentMethod.count({ where: { userId: ids.alice } })).toBe(1);
});
