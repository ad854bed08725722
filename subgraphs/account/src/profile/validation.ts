import { z } from 'zod';
import { ProfileErrorCode, type ProfileFieldError } from './error-codes';
import { sanitizeLine, sanitizeMultiline } from './sanitize';

/** Longest display name, in characters (Unicode code points), after cleaning. */
export const DISPLAY_NAME_MAX_LENGTH = 100;
/** Longest biography, in characters (Unicode code points), after cleaning. */
export const BIO_MAX_LENGTH = 500;
/**
 * Longest raw input accepted for cleaning: markup that cleaning removes may make the submitted text longer than
 * the stored limit, but not without bound (cleaning is linear, still not free).
 */
const RAW_LENGTH_FACTOR = 10;
/** BCP 47 tags used in practice are far shorter; the cap only bounds the work. */
const LOCALE_MAX_LENGTH = 64;
const TIMEZONE_MAX_LENGTH = 64;
const PHONE_RAW_MAX_LENGTH = 40;

/** E.164: `+`, a country code not starting with 0, at most 15 digits in all (same rule as identity's SMS MFA). */
const E164 = /^\+[1-9]\d{6,14}$/;
/** Separators people type inside phone numbers. */
const PHONE_SEPARATORS = /[\s\-.()\u00A0]/g;

const codePoints = (text: string) => [...text].length;

/** The canonical form of a BCP 47 tag (`EN-gb` → `en-GB`), or null when it is not well-formed. */
export function canonicalLocale(tag: string): string | null {
  if (tag === '' || tag.includes(',')) return null;
  try {
    const [canonical, ...rest] = Intl.getCanonicalLocales(tag);
    return canonical !== undefined && rest.length === 0 ? canonical : null;
  } catch {
    return null;
  }
}

let supportedTimeZones: ReadonlySet<string> | undefined;

/**
 * The canonical IANA name of a time zone (`europe/berlin` → `Europe/Berlin`, `US/Pacific` →
 * `America/Los_Angeles`), or null when Intl.DateTimeFormat refuses it or it is not one of
 * `Intl.supportedValuesOf('timeZone')`. `UTC` (and its aliases) is accepted although that list omits it.
 * Offsets such as `+01:00` are refused: they are not time zones (no daylight-saving rules).
 */
export function canonicalTimeZone(name: string): string | null {
  if (name === '') return null;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
  supportedTimeZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  return resolved === 'UTC' || supportedTimeZones.has(resolved) ? resolved : null;
}

/** The E.164 form of what a person typed (separators dropped), or null when it is not a phone number. */
export function normalizePhoneNumber(input: string): string | null {
  const compact = input.replace(PHONE_SEPARATORS, '');
  return E164.test(compact) ? compact : null;
}

const displayNameMessage = `Enter a display name of 1 to ${DISPLAY_NAME_MAX_LENGTH} characters.`;
const bioMessage = `The biography must be at most ${BIO_MAX_LENGTH} characters long.`;
const phoneMessage = 'Enter the phone number in international format, e.g. +49 30 1234567.';
const localeMessage = 'Enter a language tag such as en-GB.';
const timezoneMessage = 'Enter a time zone such as Europe/Berlin.';

/** Empty after trimming means "clear the field". */
const blankToNull = (value: string) => {
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
};

const displayNameSchema = z
  .string({ error: displayNameMessage })
  .max(DISPLAY_NAME_MAX_LENGTH * RAW_LENGTH_FACTOR, { error: displayNameMessage })
  .transform(sanitizeLine)
  .refine((name) => name.length > 0 && codePoints(name) <= DISPLAY_NAME_MAX_LENGTH, {
    error: displayNameMessage,
  });

const bioSchema = z
  .string({ error: bioMessage })
  .max(BIO_MAX_LENGTH * RAW_LENGTH_FACTOR, { error: bioMessage })
  .transform(sanitizeMultiline)
  .refine((bio) => codePoints(bio) <= BIO_MAX_LENGTH, { error: bioMessage })
  .transform((bio) => (bio === '' ? null : bio));

/** A string field that is cleared when blank and otherwise mapped through `canonical` (null: invalid). */
function canonicalField(maxLength: number, message: string, canonical: (value: string) => string | null) {
  return z
    .string({ error: message })
    .max(maxLength, { error: message })
    .transform((value, ctx): string | null => {
      const trimmed = blankToNull(value);
      if (trimmed === null) return null;
      const result = canonical(trimmed);
      if (result === null) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return result;
    });
}

/**
 * `updateProfile` input. Every field is optional (absent: unchanged) and nullable (null: cleared). Text fields
 * are cleaned by {@link sanitizeLine} / {@link sanitizeMultiline} before their length is checked; a blank bio,
 * phone, locale or time zone clears the field; locale and time zone are stored in canonical form; phone as E.164.
 */
export const profileUpdateSchema = z.strictObject({
  displayName: displayNameSchema.nullable().optional(),
  bio: bioSchema.nullable().optional(),
  phone: canonicalField(PHONE_RAW_MAX_LENGTH, phoneMessage, normalizePhoneNumber).nullable().optional(),
  locale: canonicalField(LOCALE_MAX_LENGTH, localeMessage, canonicalLocale).nullable().optional(),
  timezone: canonicalField(TIMEZONE_MAX_LENGTH, timezoneMessage, canonicalTimeZone).nullable().optional(),
});

/** A validated, cleaned profile change: only the fields present are written; null clears a field. */
export interface ProfileUpdate {
  displayName?: string | null;
  bio?: string | null;
  phone?: string | null;
  locale?: string | null;
  timezone?: string | null;
}

const FIELD_CODES: Record<string, ProfileErrorCode> = {
  displayName: ProfileErrorCode.DISPLAY_NAME_INVALID,
  bio: ProfileErrorCode.BIO_TOO_LONG,
  phone: ProfileErrorCode.PHONE_NUMBER_INVALID,
  locale: ProfileErrorCode.LOCALE_INVALID,
  timezone: ProfileErrorCode.TIMEZONE_INVALID,
};

function fieldErrorsFromZod(error: z.ZodError): ProfileFieldError[] {
  const byField = new Map<string, ProfileFieldError>();
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        if (!byField.has(key)) {
          byField.set(key, {
            field: key,
            code: ProfileErrorCode.INPUT_INVALID,
            message: 'This field cannot be changed.',
          });
        }
      }
      continue;
    }
    const field = issue.path.length > 0 ? String(issue.path[0]) : '';
    if (byField.has(field)) continue;
    // A value of the wrong type (a number for a name) is a client bug, not something to show next to a field.
    const code = issue.code === 'invalid_type' ? undefined : FIELD_CODES[field];
    byField.set(
      field,
      code
        ? { field, code, message: issue.message }
        : { field, code: ProfileErrorCode.INPUT_INVALID, message: 'The input is not valid.' },
    );
  }
  return [...byField.values()];
}

export type ProfileUpdateValidation =
  { ok: true; value: ProfileUpdate } | { ok: false; errors: ProfileFieldError[] };

/** Validates and cleans an `updateProfile` input: every invalid field reported at once, never its value. */
export function parseProfileUpdate(input: unknown): ProfileUpdateValidation {
  const result = profileUpdateSchema.safeParse(input);
  if (!result.success) return { ok: false, errors: fieldErrorsFromZod(result.error) };
  const value: ProfileUpdate = {};
  for (const [key, fieldValue] of Object.entries(result.data) as Array<
    [keyof ProfileUpdate, string | null | undefined]
  >) {
    if (fieldValue !== undefined) value[key] = fieldValue;
  }
  return { ok: true, value };
}
