import type Stripe from 'stripe';

/** A card as the provider describes it: never the number, only what a user needs to recognise it. */
export interface CardDetails {
  providerPaymentMethodId: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
}

/**
 * How an off-session charge ended. `processing` is not final: a webhook (`payment_intent.succeeded` /
 * `payment_intent.payment_failed`) settles it. `failed` carries the provider's reason (decline code or error code).
 */
export type ChargeResult =
  | { status: 'succeeded'; providerPaymentId: string }
  | { status: 'processing'; providerPaymentId: string }
  | { status: 'failed'; providerPaymentId: string | null; failureCode: string; failureMessage: string };

export interface ChargeInput {
  customerId: string;
  /** Provider id (`pm_...`) of a method attached to `customerId`. */
  paymentMethodId: string;
  /** Minor units, > 0. */
  amount: number;
  /** ISO 4217, any case (sent lower-case). */
  currency: string;
  /** Sent as `Idempotency-Key`: the same key never creates a second PaymentIntent. */
  idempotencyKey: string;
  metadata: Record<string, string>;
}

/** The payment provider as billing uses it. Stripe is the implementation; tests point it at a fake Stripe. */
export interface PaymentProvider {
  /** Creates (idempotently, key `customer:<userId>`) or returns the provider customer for the user. */
  createCustomer(input: { userId: string; email?: string }): Promise<{ customerId: string }>;
  /** Attaches a client-tokenized PaymentMethod id (pm_...) to the customer; returns card details (no PAN). */
  attachPaymentMethod(customerId: string, paymentMethodId: string): Promise<CardDetails>;
  detachPaymentMethod(paymentMethodId: string): Promise<void>;
  /** Off-session PaymentIntent create+confirm with the Idempotency-Key header = idempotencyKey. */
  charge(input: ChargeInput): Promise<ChargeResult>;
  /** stripe.webhooks.constructEvent over the raw body. Throws on a bad signature. */
  verifyWebhook(rawBody: Buffer, signatureHeader: string): Stripe.Event;
}
