import { z } from 'zod';
import { concerns, loadConfig, type ConfigOf } from '@gatehouse/config';

const CAPTCHA_PROVIDERS = ['none', 'hcaptcha', 'recaptcha', 'turnstile'] as const;

/**
 * CAPTCHA on registration. `none` (the default, and the embedded default) accepts every request; the other
 * providers make one server-side verify call per registration and need their secret.
 */
const captcha = z
  .object({
    CAPTCHA_PROVIDER: z
      .enum(CAPTCHA_PROVIDERS, { error: `must be one of ${CAPTCHA_PROVIDERS.join(', ')}` })
      .default('none'),
    /** The provider's server-side secret key. */
    CAPTCHA_SECRET: z.string().trim().min(1).optional(),
    /** Overrides the provider's documented verify endpoint (a proxy, or a local fake in tests). */
    CAPTCHA_VERIFY_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (env.CAPTCHA_PROVIDER !== 'none' && env.CAPTCHA_SECRET === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAPTCHA_SECRET'],
        message: `is required when CAPTCHA_PROVIDER=${env.CAPTCHA_PROVIDER}`,
      });
    }
  });

/** Everything the identity subgraph reads besides what `startSubgraph` already loads. */
export const identityConcerns = {
  runtime: concerns.runtime,
  redis: concerns.redis,
  auth: concerns.auth,
  signing: concerns.tokenSigning,
  crypto: concerns.crypto,
  mail: concerns.mail,
  captcha,
};

export type IdentityConfig = ConfigOf<typeof identityConcerns>;

/** @throws ConfigError naming every wrong variable. */
export function loadIdentityConfig(env: NodeJS.ProcessEnv = process.env): IdentityConfig {
  return loadConfig(identityConcerns, env);
}
