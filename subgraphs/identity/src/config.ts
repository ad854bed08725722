import { z } from 'zod';
import { concerns, integer, loadConfig, type ConfigOf } from '@gatehouse/config';
import { storageConcern } from '@gatehouse/storage';
import { mfaConcern } from './mfa/config';
import { oauthConcern } from './oauth/config';

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

/** Brute-force protection and session limits (defaults: 5 failures in 15 minutes lock for 15 minutes; 10 sessions). */
const security = z.object({
  LOGIN_MAX_FAILURES: integer(1, 100).default(5),
  LOGIN_FAILURE_WINDOW_SECONDS: integer(60, 86_400).default(900),
  LOGIN_LOCK_SECONDS: integer(60, 604_800).default(900),
  /** Signing in beyond this many live sessions ends the least recently used one. */
  SESSION_LIMIT_PER_USER: integer(1, 1000).default(10),
  /**
   * A sign-in from a device or country the account has not used for this many days is mailed to its owner
   * ("new sign-in"); 0 turns the alert off.
   */
  NEW_SIGN_IN_ALERT_DAYS: integer(0, 3650).default(90),
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
  security,
  mfa: mfaConcern,
  oauth: oauthConcern,
  /** Where avatars and exports live: the purge of deleted accounts removes their files. */
  storage: storageConcern,
};

export type IdentityConfig = ConfigOf<typeof identityConcerns>;

/** @throws ConfigError naming every wrong variable. */
export function loadIdentityConfig(env: NodeJS.ProcessEnv = process.env): IdentityConfig {
  return loadConfig(identityConcerns, env);
}
