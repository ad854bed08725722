/*
 * Long on purpose (~640 lines): one fake of the slice of Stripe's API billing calls (customers, payment methods,
 * payment intents, signed webhooks), kept together so its state machine reads like Stripe's documentation.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/**
 * Stripe's test PaymentMethod tokens the fake knows (https://docs.stripe.com/testing#cards), and how a charge on
 * them ends. Attaching one clones it into a fresh `pm_...` id, as Stripe does, so many customers can use the same
 * token.
 */
export const FAKE_STRIPE_TEST_CARDS = {
  pm_card_visa: { brand: 'visa', last4: '4242' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444' },
  pm_card_amex: { brand: 'amex', last4: '8431' },
  pm_card_chargeDeclined: { brand: 'visa', last4: '0002', decline: 'generic_decline' },
  pm_card_chargeDeclinedInsufficientFunds: { brand: 'visa', last4: '9995', decline: 'insufficient_funds' },
  pm_card_chargeDeclinedExpiredCard: { brand: 'visa', last4: '0069', decline: 'expired_card' },
} as const satisfies Record<string, { brand: string; last4: string; decline?: string }>;

export type FakeStripeTestCard = keyof typeof FAKE_STRIPE_TEST_CARDS;

/** What a forced outcome does to the next charges of a customer or payment method. */
export type FakeStripeChargeOutcome =
  /** A card decline (402 card_error); `declineCode` default `generic_decline`. */
  | { kind: 'decline'; declineCode?: string }
  /** The PaymentIntent stays `processing` until {@link FakeStripe.settlePaymentIntent}. */
  | { kind: 'processing' };

/** How the fake misbehaves for the next requests (client retry / lost-response tests). */
export type FakeStripeFailure =
  /** A Stripe `api_error` with this HTTP status (500/503...). */
  | { status: number }
  /** The request is fully processed (and its idempotent response stored), then the connection is dropped. */
  | 'drop-response';

export interface FakeStripeOptions {
  /** Default: `sk_test_<random>`. */
  secretKey?: string;
  /** Default: `whsec_<random>`. */
  webhookSecret?: string;
  /** Clock for `created` timestamps (unix seconds). Default: the system clock. */
  now?: () => Date;
}

/** A Stripe-shaped object as the fake stores it: plain JSON. */
export type FakeStripeObject = Record<string, unknown> & { id: string; object: string };

/** A request the fake received (for assertions on what the client sent). */
export interface FakeStripeRequest {
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** The decoded form body. */
  params: Record<string, unknown>;
  status: number;
}

export interface FakeStripeEventOptions {
  /** Event `created`, unix seconds. Default: the fake's clock. */
  created?: number;
  /** Default: `evt_<random>`. */
  id?: string;
}

export interface FakeStripeSendOptions {
  /** Sign with this secret instead of the fake's webhook secret (bad-signature tests). */
  secret?: string;
  /** Signature timestamp (unix seconds). Default: now (what `constructEvent`'s tolerance expects). */
  timestamp?: number;
  /** Replace the signature header altogether. */
  signatureHeader?: string;
}

export interface FakeStripe {
  /** `http://127.0.0.1:<port>`: pass as `apiBase`, or `host`/`port`/`protocol: 'http'` to the SDK. */
  baseUrl: string;
  host: string;
  port: number;
  secretKey: string;
  webhookSecret: string;
  customers: Map<string, FakeStripeObject>;
  paymentMethods: Map<string, FakeStripeObject>;
  paymentIntents: Map<string, FakeStripeObject>;
  charges: Map<string, FakeStripeObject>;
  /** Every event the fake generated (payment_intent.*, charge.refunded), oldest first. Not sent anywhere. */
  events: Stripe.Event[];
  /** Every HTTP request, in arrival order. */
  requests: FakeStripeRequest[];
  /** PaymentIntents created for a customer, oldest first. */
  paymentIntentsFor(customerId: string): FakeStripeObject[];
  /** Events generated about one object (PaymentIntent or Charge id, or a PaymentIntent's charges), oldest first. */
  eventsFor(objectId: string): Stripe.Event[];
  /**
   * Forces the next `count` charges of a customer (`cus_...`) or payment method (`pm_...`) to end this way,
   * whatever the card (e.g. fail twice, then let the card succeed).
   */
  forceNextCharges(target: string, count: number, outcome: FakeStripeChargeOutcome): void;
  /** The next `count` requests (any endpoint) fail this way. */
  failNextRequests(count: number, failure: FakeStripeFailure): void;
  /** Moves a `processing` PaymentIntent to its final state and returns the generated event. */
  settlePaymentIntent(paymentIntentId: string, outcome: 'succeeded' | { declineCode: string }): Stripe.Event;
  /** A full refund of a succeeded PaymentIntent's charge; returns the `charge.refunded` event. */
  refund(paymentIntentId: string): Stripe.Event;
  /** An event about `object` (e.g. to send an event twice or out of order). */
  buildEvent(type: string, object: FakeStripeObject, options?: FakeStripeEventOptions): Stripe.Event;
  /**
   * POSTs the event as JSON to `url`, signed like Stripe (`Stripe-Signature`, made by the SDK's
   * `webhooks.generateTestHeaderString`). Resolves with the receiver's answer.
   */
  sendEvent(
    url: string,
    event: Stripe.Event,
    options?: FakeStripeSendOptions,
  ): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const API_VERSION = Stripe.API_VERSION;
const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

/** Stripe's error JSON. */
class StripeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: {
      type: string;
      code?: string;
      decline_code?: string;
      message: string;
      param?: string;
      payment_intent?: FakeStripeObject;
      charge?: string;
    },
  ) {
    super(body.message);
  }
}

const missing = (kind: string, value: string, param = 'id') =>
  new StripeHttpError(404, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    param,
    message: `No such ${kind}: '${value}'`,
  });

const invalid = (message: string, param?: string) =>
  new StripeHttpError(400, { type: 'invalid_request_error', code: 'parameter_missing', message, param });

/**
 * Decodes Stripe's form encoding (`metadata[key]=v`, `expand[0]=x`, `a[b][c]=v`) into nested objects/arrays.
 * Numeric-looking brackets become array indices.
 */
export function decodeStripeForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const match = /^([^[]+)((?:\[[^\]]*\])*)$/.exec(rawKey);
    if (!match) continue;
    const path = [
      match[1] as string,
      ...[...(match[2] ?? '').matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? ''),
    ];
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < path.length; i++) {
      const key = path[i] as string;
      const last = i === path.length - 1;
      const nextIsIndex = !last && /^\d*$/.test(path[i + 1] as string);
      if (Array.isArray(node)) {
        const index = key === '' ? node.length : Number(key);
        if (last) node[index] = value;
        else node = (node[index] ??= nextIsIndex ? [] : {}) as Record<string, unknown> | unknown[];
      } else if (last) {
        node[key] = value;
      } else {
        node = (node[key] ??= nextIsIndex ? [] : {}) as Record<string, unknown> | unknown[];
      }
    }
  }
  return root;
}

const asRecord = (value: unknown): Record<string, string> =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, string>) : {};

/**
 * A local HTTP server speaking the part of Stripe's REST API Gatehouse uses, good enough for the official
 * `stripe` SDK (`new Stripe(key, { host, port, protocol: 'http' })`):
 *
 * - `POST /v1/customers`, `GET /v1/customers/:id`
 * - `GET /v1/payment_methods/:id`, `POST /v1/payment_methods/:id/attach` (`customer`), `.../detach`
 * - `POST /v1/payment_intents` (`amount`, `currency`, `customer`, `payment_method`, `confirm=true`,
 *   `off_session=true`, `metadata[...]`): the outcome follows the test card ({@link FAKE_STRIPE_TEST_CARDS}) or a
 *   forced outcome; a decline answers 402 `card_error` with the PaymentIntent inside the error, like Stripe.
 *   `GET /v1/payment_intents/:id`.
 *
 * Bearer auth with the secret key (401 otherwise). `Idempotency-Key` is honoured for POSTs: the same key replays
 * the first response, the same key with other parameters is a 400 `idempotency_error`. Every state change of a
 * PaymentIntent records the Stripe event it would send (`events`); tests deliver them with {@link FakeStripe.sendEvent}.
 */
export async function startFakeStripe(options: FakeStripeOptions = {}): Promise<FakeStripe> {
  const secretKey = options.secretKey ?? `sk_test_${randomBytes(12).toString('hex')}`;
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(16).toString('hex')}`;
  const clock = options.now ?? (() => new Date());
  const unixNow = () => Math.floor(clock().getTime() / 1000);

  const customers = new Map<string, FakeStripeObject>();
  const paymentMethods = new Map<string, FakeStripeObject>();
  const paymentIntents = new Map<string, FakeStripeObject>();
  const charges = new Map<string, FakeStripeObject>();
  const events: Stripe.Event[] = [];
  const requests: FakeStripeRequest[] = [];
  const idempotent = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  const forced = new Map<string, Array<FakeStripeChargeOutcome>>();
  const failures: FakeStripeFailure[] = [];

  const buildEvent = (type: string, object: FakeStripeObject, eventOptions: FakeStripeEventOptions = {}) =>
    ({
      id: eventOptions.id ?? id('evt'),
      object: 'event',
      api_version: API_VERSION,
      created: eventOptions.created ?? unixNow(),
      data: { object: structuredClone(object) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    }) as unknown as Stripe.Event;

  const emit = (type: string, object: FakeStripeObject) => {
    const event = buildEvent(type, object);
    events.push(event);
    return event;
  };

  /** A test token resolves to a fresh detached clone; anything else must exist. */
  function paymentMethod(pmId: string): FakeStripeObject {
    const existing = paymentMethods.get(pmId);
    if (existing) return existing;
    const card = (
      FAKE_STRIPE_TEST_CARDS as Record<string, { brand: string; last4: string; decline?: string }>
    )[pmId];
    if (!card) throw missing('PaymentMethod', pmId, 'payment_method');
    return {
      id: pmId,
      object: 'payment_method',
      type: 'card',
      customer: null,
      created: unixNow(),
      livemode: false,
      metadata: {},
      billing_details: { address: null, email: null, name: null, phone: null },
      card: {
        brand: card.brand,
        last4: card.last4,
        exp_month: 12,
        exp_year: clock().getUTCFullYear() + 3,
        country: 'US',
        funding: 'credit',
      },
      // Not a Stripe field: the token the clone came from, which decides charge outcomes.
      _test_token: pmId,
    };
  }

  const publicPm = (pm: FakeStripeObject): FakeStripeObject => {
    const { _test_token: _, ...rest } = pm;
    return rest as FakeStripeObject;
  };

  function takeForced(customerId: string, pmId: string): FakeStripeChargeOutcome | undefined {
    for (const target of [pmId, customerId]) {
      const queue = forced.get(target);
      if (queue?.length) return queue.shift();
    }
    return undefined;
  }

  function createCharge(pi: FakeStripeObject, status: 'succeeded' | 'failed', declineCode?: string) {
    const charge: FakeStripeObject = {
      id: id('ch'),
      object: 'charge',
      amount: pi.amount,
      amount_captured: status === 'succeeded' ? pi.amount : 0,
      amount_refunded: 0,
      currency: pi.currency,
      customer: pi.customer,
      payment_intent: pi.id,
      payment_method: pi.payment_method,
      paid: status === 'succeeded',
      refunded: false,
      status,
      created: unixNow(),
      metadata: pi.metadata,
      failure_code: declineCode ? 'card_declined' : null,
      failure_message: declineCode ? 'Your card was declined.' : null,
      outcome: declineCode ? { type: 'issuer_declined', reason: declineCode } : { type: 'authorized' },
    };
    charges.set(charge.id, charge);
    pi.latest_charge = charge.id;
    return charge;
  }

  function decline(pi: FakeStripeObject, declineCode: string): void {
    const charge = createCharge(pi, 'failed', declineCode);
    const message =
      declineCode === 'insufficient_funds' ? 'Your card has insufficient funds.' : 'Your card was declined.';
    pi.status = 'requires_payment_method';
    pi.last_payment_error = {
      type: 'card_error',
      code: 'card_declined',
      decline_code: declineCode,
      message,
      charge: charge.id,
      payment_method: paymentMethods.get(pi.payment_method as string),
    };
  }

  function createPaymentIntent(params: Record<string, unknown>): { status: number; body: unknown } {
    const amount = Number(params.amount);
    if (!Number.isInteger(amount) || amount < 1) throw invalid('Missing required param: amount.', 'amount');
    const currency = String(params.currency ?? '').toLowerCase();
    if (!/^[a-z]{3}$/.test(currency)) throw invalid('Missing required param: currency.', 'currency');
    const customerId = String(params.customer ?? '');
    if (customerId && !customers.has(customerId)) throw missing('customer', customerId, 'customer');
    const pmId = String(params.payment_method ?? '');
    const pm = pmId ? paymentMethods.get(pmId) : undefined;
    if (!pm) throw missing('PaymentMethod', pmId, 'payment_method');
    if (pm.customer !== customerId) {
      throw new StripeHttpError(400, {
        type: 'invalid_request_error',
        code: 'payment_method_not_attached',
        param: 'payment_method',
        message: `The PaymentMethod ${pmId} does not belong to the Customer you supplied ${customerId}.`,
      });
    }
    const pi: FakeStripeObject = {
      id: id('pi'),
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency,
      customer: customerId || null,
      payment_method: pmId,
      confirmation_method: 'automatic',
      capture_method: 'automatic',
      created: unixNow(),
      livemode: false,
      metadata: asRecord(params.metadata),
      status: 'requires_confirmation',
      latest_charge: null,
      last_payment_error: null,
      client_secret: null,
      description: params.description ?? null,
    };
    paymentIntents.set(pi.id, pi);
    if (String(params.confirm) !== 'true') return { status: 200, body: pi };

    const token = String(pm._test_token ?? '');
    const card = (FAKE_STRIPE_TEST_CARDS as Record<string, { decline?: string }>)[token];
    const outcome: FakeStripeChargeOutcome | undefined =
      takeForced(customerId, pmId) ??
      (card?.decline ? { kind: 'decline', declineCode: card.decline } : undefined);
    if (outcome?.kind === 'processing') {
      pi.status = 'processing';
      emit('payment_intent.processing', pi);
      return { status: 200, body: pi };
    }
    if (outcome?.kind === 'decline') {
      decline(pi, outcome.declineCode ?? 'generic_decline');
      emit('payment_intent.payment_failed', pi);
      const error = pi.last_payment_error as {
        code: string;
        decline_code: string;
        message: string;
        charge: string;
      };
      throw new StripeHttpError(402, {
        type: 'card_error',
        code: error.code,
        decline_code: error.decline_code,
        message: error.message,
        charge: error.charge,
        payment_intent: structuredClone(pi),
      });
    }
    succeed(pi);
    return { status: 200, body: pi };
  }

  function succeed(pi: FakeStripeObject): void {
    const charge = createCharge(pi, 'succeeded');
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    emit('charge.succeeded', charge);
    emit('payment_intent.succeeded', pi);
  }

  function route(
    method: string,
    path: string,
    params: Record<string, unknown>,
  ): { status: number; body: unknown } {
    const segments = path.split('/').filter(Boolean);
    if (segments[0] !== 'v1')
      throw new StripeHttpError(404, {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${method}: ${path}).`,
      });
    const [, resource, objectId, action] = segments;

    if (resource === 'customers' && method === 'POST' && !objectId) {
      const customer: FakeStripeObject = {
        id: id('cus'),
        object: 'customer',
        email: params.email ?? null,
        name: params.name ?? null,
        description: params.description ?? null,
        created: unixNow(),
        livemode: false,
        metadata: asRecord(params.metadata),
        invoice_settings: { default_payment_method: null },
        balance: 0,
        currency: null,
        delinquent: false,
      };
      customers.set(customer.id, customer);
      return { status: 200, body: customer };
    }
    if (resource === 'customers' && method === 'GET' && objectId && !action) {
      const customer = customers.get(objectId);
      if (!customer) throw missing('customer', objectId);
      return { status: 200, body: customer };
    }
    if (resource === 'payment_methods' && objectId) {
      if (method === 'GET' && !action) {
        const pm = paymentMethods.get(objectId);
        if (!pm) throw missing('PaymentMethod', objectId);
        return { status: 200, body: publicPm(pm) };
      }
      if (method === 'POST' && action === 'attach') {
        const customerId = String(params.customer ?? '');
        if (!customerId) throw invalid('Missing required param: customer.', 'customer');
        if (!customers.has(customerId)) throw missing('customer', customerId, 'customer');
        const source = paymentMethod(objectId);
        if (source.customer && source.customer !== customerId) {
          throw new StripeHttpError(400, {
            type: 'invalid_request_error',
            message: 'The payment method you provided has already been attached to a customer.',
          });
        }
        // Test tokens are cloned (a fresh pm id per attach), like Stripe does.
        const pm = paymentMethods.has(objectId) ? source : { ...structuredClone(source), id: id('pm') };
        pm.customer = customerId;
        paymentMethods.set(pm.id, pm);
        return { status: 200, body: publicPm(pm) };
      }
      if (method === 'POST' && action === 'detach') {
        const pm = paymentMethods.get(objectId);
        if (!pm) throw missing('PaymentMethod', objectId);
        if (!pm.customer) {
          throw new StripeHttpError(400, {
            type: 'invalid_request_error',
            message:
              'The payment method you provided is not attached to a customer so detachment is impossible.',
          });
        }
        pm.customer = null;
        return { status: 200, body: publicPm(pm) };
      }
    }
    if (resource === 'payment_intents') {
      if (method === 'POST' && !objectId) return createPaymentIntent(params);
      if (method === 'GET' && objectId && !action) {
        const pi = paymentIntents.get(objectId);
        if (!pi) throw missing('payment_intent', objectId);
        return { status: 200, body: pi };
      }
    }
    throw new StripeHttpError(404, {
      type: 'invalid_request_error',
      message: `Unrecognized request URL (${method}: ${path}).`,
    });
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const raw = Buffer.concat(chunks).toString('utf8');
      const query = (req.url ?? '').includes('?')
        ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1)
        : '';
      const params = decodeStripeForm(method === 'GET' ? query : raw);
      const keyHeader = req.headers['idempotency-key'];
      const idempotencyKey = typeof keyHeader === 'string' ? keyHeader : null;
      const record: FakeStripeRequest = { method, path, idempotencyKey, params, status: 0 };
      requests.push(record);
      const requestId = id('req');
      const send = (status: number, body: unknown, drop = false) => {
        record.status = status;
        if (drop) return void req.socket.destroy();
        const payload = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'request-id': requestId,
          'stripe-version': API_VERSION,
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        });
        res.end(payload);
      };

      if (req.headers.authorization !== `Bearer ${secretKey}`) {
        return send(401, {
          error: {
            type: 'invalid_request_error',
            message: 'Invalid API Key provided.',
          },
        });
      }
      const failure = failures.shift();
      if (failure && failure !== 'drop-response') {
        return send(failure.status, {
          error: { type: 'api_error', message: 'Fake Stripe: forced failure.' },
        });
      }
      const drop = failure === 'drop-response';

      const scopedKey = idempotencyKey && method === 'POST' ? `${path} ${idempotencyKey}` : null;
      const fingerprint = createHash('sha256').update(raw).digest('hex');
      if (scopedKey) {
        const previous = idempotent.get(scopedKey);
        if (previous) {
          if (previous.fingerprint !== fingerprint) {
            return send(400, {
              error: {
                type: 'idempotency_error',
                message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
              },
            });
          }
          return send(previous.status, previous.body, drop);
        }
      }
      let status: number;
      let body: unknown;
      try {
        ({ status, body } = route(method, path, params));
        body = structuredClone(body);
      } catch (error) {
        if (!(error instanceof StripeHttpError)) throw error;
        status = error.status;
        body = { error: { ...error.body, request_log_url: null } };
      }
      // Stripe stores the answer of any request that reached execution, errors included (not 5xx).
      if (scopedKey) idempotent.set(scopedKey, { fingerprint, status, body });
      send(status, body, drop);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    baseUrl,
    host: '127.0.0.1',
    port,
    secretKey,
    webhookSecret,
    customers,
    paymentMethods,
    paymentIntents,
    charges,
    events,
    requests,
    paymentIntentsFor: (customerId) =>
      [...paymentIntents.values()].filter((pi) => pi.customer === customerId),
    eventsFor: (objectId) =>
      events.filter((event) => {
        const object = event.data.object as unknown as Record<string, unknown>;
        return object.id === objectId || object.payment_intent === objectId;
      }),
    forceNextCharges(target, count, outcome) {
      const queue = forced.get(target) ?? [];
      for (let i = 0; i < count; i++) queue.push(outcome);
      forced.set(target, queue);
    },
    failNextRequests(count, failure) {
      for (let i = 0; i < count; i++) failures.push(failure);
    },
    settlePaymentIntent(paymentIntentId, outcome) {
      const pi = paymentIntents.get(paymentIntentId);
      if (!pi || pi.status !== 'processing')
        throw new Error(`fake stripe: ${paymentIntentId} is not processing`);
      if (outcome === 'succeeded') {
        succeed(pi);
        return events[events.length - 1] as Stripe.Event;
      }
      decline(pi, outcome.declineCode);
      return emit('payment_intent.payment_failed', pi);
    },
    refund(paymentIntentId) {
      const pi = paymentIntents.get(paymentIntentId);
      const charge = pi && typeof pi.latest_charge === 'string' ? charges.get(pi.latest_charge) : undefined;
      if (!pi || pi.status !== 'succeeded' || !charge) {
        throw new Error(`fake stripe: ${paymentIntentId} has no succeeded charge`);
      }
      charge.amount_refunded = charge.amount;
      charge.refunded = true;
      return emit('charge.refunded', charge);
    },
    buildEvent,
    async sendEvent(url, event, sendOptions = {}) {
      const payload = JSON.stringify(event, null, 2);
      const signature =
        sendOptions.signatureHeader ??
        Stripe.webhooks.generateTestHeaderString({
          payload,
          secret: sendOptions.secret ?? webhookSecret,
          ...(sendOptions.timestamp === undefined ? {} : { timestamp: sendOptions.timestamp }),
        });
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature },
        body: payload,
      });
      return { status: response.status, body: await response.text() };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
