import { concerns, integer, loadConfig, type ConfigOf } from '@gatehouse/config';
import { storageConcern } from '@gatehouse/storage';
import { z } from 'zod';

/**
 * Payments and billing policy. Without STRIPE_SECRET_KEY the platform runs without a payment provider: the plan
 * catalog, free plans and trials work; adding a payment method or charging answers SERVICE_UNAVAILABLE
 * (`PAYMENTS_NOT_CONFIGURED`). Production with a key also needs STRIPE_WEBHOOK_SECRET, or payment states that
 * Stripe settles later (a charge left `processing`, a refund) would never arrive.
 */
export const paymentsConcern = z
  .object({
    NODE_ENV: z.string().optional(),
    STRIPE_SECRET_KEY: z.string().trim().min(1).optional(),
    /** `whsec_...`: verifies `POST /webhooks/stripe`. */
    STRIPE_WEBHOOK_SECRET: z.string().trim().min(1).optional(),
    /** Another Stripe-compatible API base (a local emulator in tests): `http://127.0.0.1:12111`. */
    STRIPE_API_BASE: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    /** Tax rate applied to every invoice, in basis points (2000 = 20 %). */
    BILLING_TAX_RATE_BPS: integer(0, 10_000).default(0),
    /** How often the renewal and dunning jobs look for due work. */
    BILLING_JOB_INTERVAL_SECONDS: integer(5, 86_400).default(300),
    /** Allow `http://` and private-network webhook URLs (development and tests only). */
    WEBHOOKS_ALLOW_INSECURE_URLS: z.stringbool({ error: 'must be true or false' }).default(false),
    /** Lets a trusted server report usage for any user at `POST /billing/usage` (`Authorization: Bearer <token>`). */
    BILLING_SERVICE_TOKEN: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  })
  .superRefine((env, ctx) => {
    const production = env.NODE_ENV === 'production';
    if (production && env.STRIPE_SECRET_KEY && !env.STRIPE_WEBHOOK_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRIPE_WEBHOOK_SECRET'],
        message: 'is required with STRIPE_SECRET_KEY when NODE_ENV=production',
      });
    }
    if (production && env.WEBHOOKS_ALLOW_INSECURE_URLS) {
      ctx.addIssue({
        code: 'custom',
        path: ['WEBHOOKS_ALLOW_INSECURE_URLS'],
        message: 'must be false when NODE_ENV=production',
      });
    }
  })
  .transform(({ NODE_ENV: _nodeEnv, ...rest }) => rest);

/** Everything the billing subgraph reads besides what `startSubgraph` already loads. */
export const billingConcerns = {
  runtime: concerns.runtime,
  redis: concerns.redis,
  crypto: concerns.crypto,
  /** Invoice and dunning mail. */
  mail: concerns.mail,
  /** Invoice PDFs. */
  storage: storageConcern,
  payments: paymentsConcern,
};

export type BillingConfig = ConfigOf<typeof billingConcerns>;

/** @throws ConfigError naming every wrong variable. */
export function loadBillingConfig(env: NodeJS.ProcessEnv = process.env): BillingConfig {
  return loadConfig(billingConcerns, env);
}
