import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { decodeStripeForm, startFakeStripe, type FakeStripe } from './stripe-fake';

let fake: FakeStripe;
let stripe: Stripe;

beforeAll(async () => {
  fake = await startFakeStripe();
  stripe = new Stripe(fake.secretKey, {
    host: fake.host,
    port: fake.port,
    protocol: 'http',
    maxNetworkRetries: 2,
    telemetry: false,
  });
});

afterAll(async () => {
  await fake?.close();
});

async function customerWithCard(token = 'pm_card_visa') {
  const customer = await stripe.customers.create({ email: 'a@example.test', metadata: { user_id: 'u1' } });
  const pm = await stripe.paymentMethods.attach(token, { customer: customer.id });
  return { customer, pm };
}

describe('fake Stripe, driven by the official SDK', () => {
  it('creates and retrieves customers; refuses a wrong secret key with 401', async () => {
    const customer = await stripe.customers.create({ email: 'a@example.test', metadata: { user_id: 'u1' } });
    expect(customer.id).toMatch(/^cus_/);
    const again = await stripe.customers.retrieve(customer.id);
    expect(again).toMatchObject({ id: customer.id, email: 'a@example.test', metadata: { user_id: 'u1' } });

    const wrong = new Stripe('sk_test_wrong', { host: fake.host, port: fake.port, protocol: 'http' });
    await expect(wrong.customers.create({})).rejects.toMatchObject({
      type: 'StripeAuthenticationError',
      statusCode: 401,
    });
    await expect(stripe.customers.retrieve('cus_missing')).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      code: 'resource_missing',
      statusCode: 404,
    });
  });

  it('attaches a test token as a fresh payment method with card details, detaches it', async () => {
    const { customer, pm } = await customerWithCard('pm_card_mastercard');
    expect(pm.id).toMatch(/^pm_/);
    expect(pm.id).not.toBe('pm_card_mastercard');
    expect(pm.customer).toBe(customer.id);
    expect(pm.card).toMatchObject({ brand: 'mastercard', last4: '4444', exp_month: 12 });
    expect((await stripe.paymentMethods.retrieve(pm.id)).customer).toBe(customer.id);
    expect((await stripe.paymentMethods.detach(pm.id)).customer).toBeNull();
    await expect(stripe.paymentMethods.attach('pm_unknown', { customer: customer.id })).rejects.toMatchObject(
      {
        code: 'resource_missing',
      },
    );
  });

  it('charges off-session: visa succeeds, declines answer 402 card_error with the PaymentIntent', async () => {
    const { customer, pm } = await customerWithCard();
    const pi = await stripe.paymentIntents.create({
      amount: 1999,
      currency: 'eur',
      customer: customer.id,
      payment_method: pm.id,
      confirm: true,
      off_session: true,
      metadata: { payment_id: 'p1' },
    });
    expect(pi).toMatchObject({
      status: 'succeeded',
      amount: 1999,
      currency: 'eur',
      metadata: { payment_id: 'p1' },
    });
    expect(fake.eventsFor(pi.id).map((e) => e.type)).toEqual([
      'charge.succeeded',
      'payment_intent.succeeded',
    ]);

    for (const [token, declineCode] of [
      ['pm_card_chargeDeclined', 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ] as const) {
      const declined = await customerWithCard(token);
      const error = await stripe.paymentIntents
        .create({
          amount: 500,
          currency: 'eur',
          customer: declined.customer.id,
          payment_method: declined.pm.id,
          confirm: true,
          off_session: true,
        })
        .then(
          () => null,
          (err: unknown) => err,
        );
      expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
      const cardError = error as Stripe.errors.StripeCardError;
      expect(cardError).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: declineCode });
      expect(cardError.payment_intent?.status).toBe('requires_payment_method');
      expect(fake.eventsFor(cardError.payment_intent?.id ?? '').map((e) => e.type)).toEqual([
        'payment_intent.payment_failed',
      ]);
    }
  });

  it('honours Idempotency-Key: same key replays, other parameters are an idempotency_error', async () => {
    const { customer, pm } = await customerWithCard();
    const params = {
      amount: 700,
      currency: 'usd',
      customer: customer.id,
      payment_method: pm.id,
      confirm: true,
      off_session: true,
    };
    const [a, b] = await Promise.all([
      stripe.paymentIntents.create(params, { idempotencyKey: 'key-1' }),
      stripe.paymentIntents.create(params, { idempotencyKey: 'key-1' }),
    ]);
    expect(a.id).toBe(b.id);
    expect(fake.paymentIntentsFor(customer.id)).toHaveLength(1);
    await expect(
      stripe.paymentIntents.create({ ...params, amount: 701 }, { idempotencyKey: 'key-1' }),
    ).rejects.toMatchObject({ type: 'StripeIdempotencyError', statusCode: 400 });
  });

  it('a dropped response is retried by the SDK with its key and replays the same PaymentIntent', async () => {
    const { customer, pm } = await customerWithCard();
    fake.failNextRequests(1, 'drop-response');
    const pi = await stripe.paymentIntents.create(
      {
        amount: 300,
        currency: 'eur',
        customer: customer.id,
        payment_method: pm.id,
        confirm: true,
        off_session: true,
      },
      { idempotencyKey: 'lost-once' },
    );
    expect(pi.status).toBe('succeeded');
    expect(fake.paymentIntentsFor(customer.id)).toHaveLength(1);
    expect(fake.requests.filter((r) => r.idempotencyKey === 'lost-once')).toHaveLength(2);
  });

  it('forced outcomes: fail the next N charges of a customer, then the card works; processing then settle', async () => {
    const { customer, pm } = await customerWithCard();
    fake.forceNextCharges(customer.id, 2, { kind: 'decline', declineCode: 'insufficient_funds' });
    const attempt = () =>
      stripe.paymentIntents
        .create({
          amount: 100,
          currency: 'eur',
          customer: customer.id,
          payment_method: pm.id,
          confirm: true,
          off_session: true,
        })
        .then(
          (pi) => pi.status,
          (err: Stripe.errors.StripeError) => err.decline_code,
        );
    expect([await attempt(), await attempt(), await attempt()]).toEqual([
      'insufficient_funds',
      'insufficient_funds',
      'succeeded',
    ]);

    fake.forceNextCharges(pm.id, 1, { kind: 'processing' });
    const pi = await stripe.paymentIntents.create({
      amount: 100,
      currency: 'eur',
      customer: customer.id,
      payment_method: pm.id,
      confirm: true,
      off_session: true,
    });
    expect(pi.status).toBe('processing');
    const event = fake.settlePaymentIntent(pi.id, 'succeeded');
    expect(event.type).toBe('payment_intent.succeeded');
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
    expect(fake.refund(pi.id)).toMatchObject({
      type: 'charge.refunded',
      data: { object: { refunded: true } },
    });
  });

  it('sends events signed so that stripe.webhooks.constructEvent accepts them (and rejects a wrong secret)', async () => {
    const received: Array<{ body: string; signature: string }> = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({ body, signature: String(req.headers['stripe-signature']) });
        try {
          stripe.webhooks.constructEvent(body, String(req.headers['stripe-signature']), fake.webhookSecret);
          res.writeHead(200).end('ok');
        } catch {
          res.writeHead(400).end('bad signature');
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
    try {
      const event = fake.buildEvent(
        'payment_intent.succeeded',
        { id: 'pi_x', object: 'payment_intent' },
        { created: 100 },
      );
      expect(await fake.sendEvent(url, event)).toEqual({ status: 200, body: 'ok' });
      expect(await fake.sendEvent(url, event, { secret: 'whsec_wrong' })).toEqual({
        status: 400,
        body: 'bad signature',
      });
      expect(JSON.parse(received[0]?.body ?? '{}')).toMatchObject({
        id: event.id,
        created: 100,
        type: event.type,
      });
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('decodes Stripe form encoding', () => {
    expect(decodeStripeForm('a=1&metadata[k]=v&expand[0]=x&expand[1]=y&n[a][b]=c')).toEqual({
      a: '1',
      metadata: { k: 'v' },
      expand: ['x', 'y'],
      n: { a: { b: 'c' } },
    });
  });
});
