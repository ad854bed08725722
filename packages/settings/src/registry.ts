import { z } from 'zod';

/**
 * The typed registry of runtime settings: every key the platform reads, its zod schema, default, description and
 * category. A key that is not here cannot be stored. Secrets (OAuth client secrets, API keys) never live in
 * settings: they stay in the environment, and every object schema here is strict, so a stray `clientSecret`
 * field is refused rather than stored.
 */

/** Groups settings for the admin UI. */
export type SettingCategory = 'SECURITY' | 'RATE_LIMITS' | 'EMAIL' | 'OAUTH';

/** One registered setting. */
export interface SettingDefinition<T> {
  schema: z.ZodType<T>;
  default: T;
  description: string;
  category: SettingCategory;
}

const define = <T>(definition: SettingDefinition<T>): SettingDefinition<T> => definition;

const roleName = z.string().regex(/^[a-z][a-z0-9_-]{1,63}$/, { error: 'Not a role name.' });

/** Plain text for e-mail copy: no markup, no control characters (templates escape it, this keeps intent clear). */
const plainText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((text) => !/[<>]/.test(text), { error: 'HTML is not allowed; use plain text.' })
    // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
    .refine((text) => !/[\u0000-\u001f\u007f]/.test(text), { error: 'Control characters are not allowed.' });

const emailTemplateOverride = z.strictObject({
  subject: plainText(200).optional(),
  intro: plainText(2000).optional(),
});

/** What an `email.templates.<name>` setting holds: replacement copy for one template, each part optional. */
export type EmailTemplateOverride = z.output<typeof emailTemplateOverride>;

/**
 * The transactional e-mail templates whose copy may be overridden. Mirrors `MAIL_TEMPLATE_NAMES` of
 * `@gatehouse/mail` (a test keeps the two equal; this package does not depend on the mailer).
 */
export const OVERRIDABLE_EMAIL_TEMPLATES = [
  'verify-email',
  'welcome',
  'password-reset',
  'password-changed',
  'account-locked',
  'new-sign-in',
  'mfa-code',
  'mfa-enabled',
  'mfa-disabled',
  'backup-codes-low',
  'account-deactivated',
  'account-reactivate',
  'account-deleted',
  'data-export-ready',
  'email-change-confirm',
  'email-change-requested',
  'email-changed',
  'product-update',
  'payment-failed',
  'subscription-canceled',
  'subscription-suspended',
  'invoice',
] as const;

export type OverridableEmailTemplate = (typeof OVERRIDABLE_EMAIL_TEMPLATES)[number];

/** OAuth providers whose sign-in can be switched on and restricted here (their credentials stay in env). */
export const OAUTH_PROVIDERS = ['google', 'github', 'microsoft', 'apple'] as const;

export type OAuthProviderKey = (typeof OAUTH_PROVIDERS)[number];

const emailDomain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
    error: 'Not a domain name.',
  });

const oauthProvider = z.strictObject({
  enabled: z.boolean(),
  /** Only e-mail addresses of these domains may sign in with the provider; empty: any. */
  allowedEmailDomains: z.array(emailDomain).max(100),
});

const positiveSeconds = z
  .number()
  .int()
  .min(1)
  .max(30 * 24 * 3600);

/** Bounds of the gateway's RATE_LIMIT_* variables (gateway/src/config.ts), so a setting can express any of them. */
const requestsPerWindow = z.number().int().min(1).max(10_000_000);

const rateLimitsSchema = z.strictObject({
  /** Length of the sliding window every limit below counts in. */
  windowSeconds: z.number().int().min(1).max(86_400),
  /** Credential-guessing and mail-sending mutations (the gateway's AUTH_ROOT_FIELDS). */
  auth: z.strictObject({ perIp: requestsPerWindow, perUser: requestsPerWindow }),
  /** Every other mutation. */
  write: z.strictObject({ perIp: requestsPerWindow, perUser: requestsPerWindow }),
  /** Queries. */
  read: z.strictObject({ perIp: requestsPerWindow, perUser: requestsPerWindow }),
  /** The REST routes the gateway proxies (OAuth, avatar, unsubscribe, files, audit export). */
  rest: z.strictObject({ perIp: requestsPerWindow }),
});

/**
 * What the `rateLimits` setting holds: exactly what the gateway enforces, root fields (or REST requests) per
 * window, by client IP and by verified user. A value stored in an earlier shape fails this schema and so counts
 * as never stored (the gateway keeps its environment).
 */
export type RateLimitSettings = z.output<typeof rateLimitsSchema>;

const fixedSettings = {
  'security.passwordMinLength': define<number>({
    schema: z.number().int().min(8).max(128),
    default: 12,
    description: 'Shortest password accepted at sign-up, reset and change (8 to 128 characters).',
    category: 'SECURITY',
  }),
  'security.lockout': define<{ maxFailures: number; windowSeconds: number; lockSeconds: number }>({
    schema: z.strictObject({
      maxFailures: z.number().int().min(1).max(100),
      windowSeconds: positiveSeconds,
      lockSeconds: positiveSeconds,
    }),
    default: { maxFailures: 5, windowSeconds: 900, lockSeconds: 900 },
    description:
      'Wrong passwords allowed per account within windowSeconds before the account is locked for lockSeconds.',
    category: 'SECURITY',
  }),
  'security.mfaRequiredRoles': define<string[]>({
    schema: z
      .array(roleName)
      .max(100)
      .transform((roles) => [...new Set(roles)].sort()),
    default: [],
    description: 'Holders of any of these roles must set up multi-factor authentication to sign in.',
    category: 'SECURITY',
  }),
  rateLimits: define<RateLimitSettings>({
    schema: rateLimitsSchema,
    // The gateway's RATE_LIMIT_* defaults: storing the default changes nothing.
    default: {
      windowSeconds: 60,
      auth: { perIp: 30, perUser: 10 },
      write: { perIp: 600, perUser: 300 },
      read: { perIp: 6000, perUser: 3000 },
      rest: { perIp: 300 },
    },
    description:
      'Gateway rate limits per sliding window of windowSeconds: root fields per client IP and per signed-in user for auth (sign-in, sign-up, password and mail-sending mutations), write (other mutations) and read (queries), and requests per IP to proxied REST routes. Until stored, the gateway uses its RATE_LIMIT_* environment.',
    category: 'RATE_LIMITS',
  }),
  'oauth.providers': define<Record<OAuthProviderKey, { enabled: boolean; allowedEmailDomains: string[] }>>({
    schema: z.strictObject(
      Object.fromEntries(OAUTH_PROVIDERS.map((provider) => [provider, oauthProvider])) as Record<
        OAuthProviderKey,
        typeof oauthProvider
      >,
    ),
    default: Object.fromEntries(
      OAUTH_PROVIDERS.map((provider) => [provider, { enabled: false, allowedEmailDomains: [] as string[] }]),
    ) as Record<OAuthProviderKey, { enabled: boolean; allowedEmailDomains: string[] }>,
    description:
      'Which OAuth providers offer sign-in, and the e-mail domains each accepts (empty: any). Client ids and secrets stay in the environment.',
    category: 'OAUTH',
  }),
};

type EmailTemplateSettings = {
  [N in OverridableEmailTemplate as `email.templates.${N}`]: SettingDefinition<EmailTemplateOverride>;
};

const emailTemplateSettings = Object.fromEntries(
  OVERRIDABLE_EMAIL_TEMPLATES.map((name) => [
    `email.templates.${name}`,
    define<EmailTemplateOverride>({
      schema: emailTemplateOverride,
      default: {},
      description: `Replacement subject and/or intro paragraph (plain text) of the "${name}" e-mail.`,
      category: 'EMAIL',
    }),
  ]),
) as EmailTemplateSettings;

/** Every setting, by key. */
export const SETTINGS = { ...fixedSettings, ...emailTemplateSettings };

/** The registry's type: key -> definition. */
export type SettingsRegistry = typeof SETTINGS;

/** A registered setting key. */
export type SettingKey = keyof SettingsRegistry;

/** The value type of a setting. */
export type SettingValue<K extends SettingKey> = SettingsRegistry[K]['default'];

/** Every registered key, in registry order. */
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Narrows a string to a registered key. */
export function isSettingKey(key: string): key is SettingKey {
  return Object.prototype.hasOwnProperty.call(SETTINGS, key);
}

/**
 * Where access-control publishes the stored `rateLimits` for the gateway (which has no database): JSON of the
 * setting's value in the shared key/value store, no expiry; absent while the setting was never stored.
 */
export const PUBLISHED_RATE_LIMITS_KEY = 'settings:published:rateLimits:v1';
