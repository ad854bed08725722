import { z } from 'zod';

/** Where SMS codes go: nowhere (SMS is not offered), Twilio, or JSON files for a developer to read. */
export const SMS_PROVIDERS = ['none', 'twilio', 'outbox'] as const;
/** One of {@link SMS_PROVIDERS}. */
export type SmsProvider = (typeof SMS_PROVIDERS)[number];

/** Twilio's documented API host; TWILIO_BASE_URL overrides it (a regional edge, a proxy, a local fake in tests). */
export const DEFAULT_TWILIO_BASE_URL = 'https://api.twilio.com';
/** Where `SMS_PROVIDER=outbox` writes messages unless SMS_OUTBOX_DIR says otherwise. */
export const DEFAULT_SMS_OUTBOX_DIR = '.data/sms-outbox';

const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * Multi-factor authentication settings, from environment strings. SMS is off by default (`SMS_PROVIDER=none`:
 * only authenticator apps, e-mail codes and backup codes are offered); `outbox` writes each SMS as a JSON file
 * to SMS_OUTBOX_DIR for development and is refused in production, where it would silently drop every code.
 */
export const mfaConcern = z
  .object({
    NODE_ENV: z.string().optional(),
    /** Shown by authenticator apps above the account; a `:` would split the otpauth label. */
    MFA_ISSUER: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .refine((value) => !value.includes(':'), { error: 'must not contain ":"' })
      .default('Gatehouse'),
    SMS_PROVIDER: z
      .enum(SMS_PROVIDERS, { error: `must be one of ${SMS_PROVIDERS.join(', ')}` })
      .default('none'),
    TWILIO_ACCOUNT_SID: z
      .string()
      .trim()
      .regex(/^AC[0-9a-fA-F]{32}$/, { error: 'must be a Twilio account SID (AC followed by 32 hex digits)' })
      .optional(),
    TWILIO_AUTH_TOKEN: z.string().trim().min(1).optional(),
    /** The sending number, E.164. */
    TWILIO_FROM: z
      .string()
      .trim()
      .regex(E164, { error: 'must be an E.164 phone number, e.g. +15017122661' })
      .optional(),
    TWILIO_BASE_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .default(DEFAULT_TWILIO_BASE_URL),
    SMS_OUTBOX_DIR: z.string().trim().min(1).default(DEFAULT_SMS_OUTBOX_DIR),
  })
  .superRefine((env, ctx) => {
    if (env.SMS_PROVIDER === 'twilio') {
      for (const variable of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM'] as const) {
        if (env[variable] === undefined) {
          ctx.addIssue({ code: 'custom', path: [variable], message: 'is required when SMS_PROVIDER=twilio' });
        }
      }
    }
    if (env.SMS_PROVIDER === 'outbox' && env.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['SMS_PROVIDER'],
        message: 'outbox only writes files: use twilio (or none) when NODE_ENV=production',
      });
    }
  })
  .transform(({ NODE_ENV: _nodeEnv, TWILIO_BASE_URL, ...rest }) => ({
    ...rest,
    // Request paths are appended as `${TWILIO_BASE_URL}/2010-04-01/...`.
    TWILIO_BASE_URL: TWILIO_BASE_URL.replace(/\/+$/, ''),
  }));

/** The parsed {@link mfaConcern}. */
export type MfaConfig = z.output<typeof mfaConcern>;
