import Stripe from 'stripe';
import type { CardDetails, ChargeInput, ChargeResult, PaymentProvider } from './payment-provider';
import {
  PaymentMethodDeclinedError,
  PaymentMethodInvalidError,
  PaymentProviderUnavailableError,
} from './provider-errors';

export interface StripeProviderOptions {
  /** `sk_...`. Never logged. */
  secretKey: string;
  /** `whsec_...` of the webhook endpoint. */
  webhookSecret: string;
  /** `http://127.0.0.1:<port>` of a fake Stripe (tests, local dev). Default: Stripe's API. */
  apiBase?: string;
  /** Per-request timeout. Default 20 s: a charge must not hold a job or request for the SDK's default 80 s. */
  timeoutMs?: number;
  /**
   * SDK retries on network errors, 409 and 5xx. Default 2. Safe for POSTs: every mutating call carries an
   * idempotency key (ours, or the SDK's own when we pass none).
   */
  maxNetworkRetries?: number;
  /** `constructEvent` tolerance for the signature timestamp, seconds. Default Stripe's 300. */
  webhookToleranceSeconds?: number;
}

/** The SDK client for the options: `apiBase` becomes host/port/protocol. */
export function createStripeClient(options: StripeProviderOptions): Stripe {
  const base = options.apiBase ? new URL(options.apiBase) : null;
  return new Stripe(options.secretKey, {
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    timeout: options.timeoutMs ?? 20_000,
    telemetry: false,
    appInfo: { name: 'gatehouse-billing' },
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
          protocol: base.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
}

const isStripeError = (error: unknown): error is Stripe.errors.StripeError =>
  error instanceof Stripe.errors.StripeError;

/** 5xx, rate limits and connection failures: nothing is known to have happened, the caller may retry. */
function isTransient(error: unknown): boolean {
  return (
    error instanceof Stripe.errors.StripeConnectionError ||
    error instanceof Stripe.errors.StripeAPIError ||
    error instanceof Stripe.errors.StripeRateLimitError ||
    (isStripeError(error) && (error.statusCode ?? 0) >= 500)
  );
}

function cardDetails(pm: Stripe.PaymentMethod): CardDetails {
  return {
    providerPaymentMethodId: pm.id,
    brand: pm.card?.brand ?? null,
    last4: pm.card?.last4 ?? null,
    expMonth: pm.card?.exp_month ?? null,
    expYear: pm.card?.exp_year ?? null,
  };
}

/** A PaymentIntent that came back without an exception, as a result. */
function fromPaymentIntent(pi: Stripe.PaymentIntent): ChargeResult {
  switch (pi.status) {
    case 'succeeded':
      return { status: 'succeeded', providerPaymentId: pi.id };
    case 'processing':
      return { status: 'processing', providerPaymentId: pi.id };
    case 'requires_action':
      // Off-session, nobody can complete 3-D Secure now: the customer must pay on-session.
      return {
        status: 'failed',
        providerPaymentId: pi.id,
        failureCode: 'authentication_required',
        failureMessage: 'The card requires authentication.',
      };
    default: {
      const error = pi.last_payment_error;
      return {
        status: 'failed',
        providerPaymentId: pi.id,
        failureCode: error?.decline_code ?? error?.code ?? pi.status,
        failureMessage: error?.message ?? `The payment ended as ${pi.status}.`,
      };
    }
  }
}

/**
 * {@link PaymentProvider} on Stripe's API through the official SDK. Transient failures (network, 5xx, 429) become
 * {@link PaymentProviderUnavailableError} after the SDK's retries; card declines of a charge are a `failed`
 * result, not an exception.
 */
export function createStripeProvider(options: StripeProviderOptions): PaymentProvider {
  const stripe = createStripeClient(options);

  async function call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isTransient(error)) throw new PaymentProviderUnavailableError({ cause: error });
      throw error;
    }
  }

  return {
    async createCustomer({ userId, email }) {
      const customer = await call(() =>
        stripe.customers.create(
          { ...(email ? { email } : {}), metadata: { user_id: userId } },
          // A retry after a lost answer returns the same customer instead of a duplicate.
          { idempotencyKey: `customer:${userId}` },
        ),
      );
      return { customerId: customer.id };
    },

    async attachPaymentMethod(customerId, paymentMethodId) {
      try {
        return cardDetails(
          await call(() => stripe.paymentMethods.attach(paymentMethodId, { customer: customerId })),
        );
      } catch (error) {
        if (error instanceof Stripe.errors.StripeCardError) {
          throw new PaymentMethodDeclinedError(error.decline_code ?? error.code ?? 'card_declined', {
            cause: error,
          });
        }
        if (error instanceof Stripe.errors.StripeInvalidRequestError) {
          throw new PaymentMethodInvalidError({ cause: error });
        }
        throw error;
      }
    },

    async detachPaymentMethod(paymentMethodId) {
      try {
        await call(() => stripe.paymentMethods.detach(paymentMethodId));
      } catch (error) {
        // Already detached or gone at the provider: the goal is reached.
        if (error instanceof Stripe.errors.StripeInvalidRequestError) return;
        throw error;
      }
    },

    async charge(input: ChargeInput): Promise<ChargeResult> {
      try {
        const pi = await call(() =>
          stripe.paymentIntents.create(
            {
              amount: input.amount,
              currency: input.currency.toLowerCase(),
              customer: input.customerId,
              payment_method: input.paymentMethodId,
              confirm: true,
              off_session: true,
              metadata: input.metadata,
            },
            { idempotencyKey: input.idempotencyKey },
          ),
        );
        return fromPaymentIntent(pi);
      } catch (error) {
        if (error instanceof Stripe.errors.StripeCardError) {
          return {
            status: 'failed',
            providerPaymentId: error.payment_intent?.id ?? null,
            failureCode: error.decline_code ?? error.code ?? 'card_declined',
            failureMessage: error.message,
          };
        }
        // The payment method was detached, the customer deleted...: this attempt cannot succeed. An idempotency
        // error is a programming error (the same key with other parameters) and is thrown.
        if (error instanceof Stripe.errors.StripeInvalidRequestError) {
          return {
            status: 'failed',
            providerPaymentId: error.payment_intent?.id ?? null,
            failureCode: error.code ?? 'invalid_request',
            failureMessage: error.message,
          };
        }
        throw error;
      }
    },

    verifyWebhook(rawBody, signatureHeader) {
      return stripe.webhooks.constructEvent(
        rawBody,
        signatureHeader,
        options.webhookSecret,
        options.webhookToleranceSeconds,
      );
    },
  };
}
