import { z } from 'zod';
import { CredentialErrorCode, type FieldError } from './error-codes';
import type { PasswordPolicy } from './password-policy';

/** RFC 5321 limits: 254 characters for a usable address, 64 for the local part. */
const EMAIL_MAX_LENGTH = 254;
const EMAIL_LOCAL_PART_MAX_LENGTH = 64;
/** Hard cap on any password we accept, whatever the policy: bounds argon2 and zxcvbn input. */
export const PASSWORD_ABSOLUTE_MAX_LENGTH = 128;
const NAME_MAX_LENGTH = 100;

/** C0/C1 controls, and bidi overrides/isolates that let a name display as something else. */
const FORBIDDEN_NAME_CHARACTERS = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

/** Trimmed, lower-cased, RFC-ish (zod's practical pattern), at most 254 characters with a 64-character local part. */
export const emailSchema = z
  .string({ error: 'Enter your email address.' })
  .trim()
  .toLowerCase()
  .max(EMAIL_MAX_LENGTH, { error: 'Email address is too long.' })
  .pipe(z.email({ error: 'Enter a valid email address.' }))
  .refine((email) => email.indexOf('@') <= EMAIL_LOCAL_PART_MAX_LENGTH, {
    error: 'Enter a valid email address.',
  });

export const nameSchema = z
  .string({ error: 'Enter your name.' })
  .normalize('NFC')
  .trim()
  .min(1, { error: 'Enter your name.' })
  .max(NAME_MAX_LENGTH, { error: `Name must be at most ${NAME_MAX_LENGTH} characters long.` })
  .refine((name) => !FORBIDDEN_NAME_CHARACTERS.test(name), { error: 'Name contains invalid characters.' });

/** Never trimmed or normalised: the password is exactly what the user typed. Strength rules live in the policy. */
function passwordSchema(maxLength: number) {
  return z
    .string({ error: 'Enter a password.' })
    .min(1, { error: 'Enter a password.' })
    .max(maxLength, { error: `Password must be at most ${maxLength} characters long.` });
}

export function createRegistrationInputSchema(options: { passwordMaxLength?: number } = {}) {
  const maxLength = Math.min(
    options.passwordMaxLength ?? PASSWORD_ABSOLUTE_MAX_LENGTH,
    PASSWORD_ABSOLUTE_MAX_LENGTH,
  );
  return z.object({ email: emailSchema, password: passwordSchema(maxLength), name: nameSchema });
}

export const registrationInputSchema = createRegistrationInputSchema();
export type RegistrationInput = z.infer<typeof registrationInputSchema>;

/**
 * Sign-in input. Only shape and bounds: the password policy is not applied (older passwords predate it), and the
 * 128-character cap keeps an attacker from feeding argon2 megabytes.
 */
export const loginInputSchema = z.object({
  email: emailSchema,
  password: passwordSchema(PASSWORD_ABSOLUTE_MAX_LENGTH),
});
export type LoginInput = z.infer<typeof loginInputSchema>;

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

const FIELD_CODES: Record<string, CredentialErrorCode> = {
  email: CredentialErrorCode.EMAIL_INVALID,
  name: CredentialErrorCode.NAME_INVALID,
};

function codeFor(field: string, issue: z.core.$ZodIssue): CredentialErrorCode {
  if (field === 'password') {
    if (issue.code === 'too_big') return CredentialErrorCode.PASSWORD_TOO_LONG;
    return CredentialErrorCode.PASSWORD_REQUIRED;
  }
  return FIELD_CODES[field] ?? CredentialErrorCode.INPUT_INVALID;
}

/** One error per field (the first zod reports), with our stable code; values are never included. */
export function fieldErrorsFromZod(error: z.ZodError): FieldError[] {
  const byField = new Map<string, FieldError>();
  for (const issue of error.issues) {
    const field = issue.path.length > 0 ? String(issue.path[0]) : '';
    if (byField.has(field)) continue;
    byField.set(field, { field, code: codeFor(field, issue), message: issue.message });
  }
  return [...byField.values()];
}

export function parseWith<T>(schema: z.ZodType<T>, input: unknown): ValidationResult<T> {
  const result = schema.safeParse(input);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, errors: fieldErrorsFromZod(result.error) };
}

export function parseLoginInput(input: unknown): ValidationResult<LoginInput> {
  return parseWith(loginInputSchema, input);
}

/**
 * Everything a registration form needs to show at once: shape errors for every field plus the password policy's
 * verdict (length, personal data, strength), the latter judged against the cleaned email and name.
 */
export function validateRegistrationInput(
  input: unknown,
  policy: PasswordPolicy,
): ValidationResult<RegistrationInput> {
  const schema = createRegistrationInputSchema({ passwordMaxLength: policy.maxLength });
  const parsed = schema.safeParse(input);
  const errors = parsed.success ? [] : fieldErrorsFromZod(parsed.error);
  const passwordShapeOk = !errors.some((error) => error.field === 'password');
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  if (passwordShapeOk && typeof raw.password === 'string') {
    const owner = {
      email: parsed.success ? parsed.data.email : emailSchema.safeParse(raw.email).data,
      name: parsed.success ? parsed.data.name : nameSchema.safeParse(raw.name).data,
    };
    const verdict = policy.check(raw.password, owner);
    if (!verdict.ok) errors.push(...verdict.errors);
  }
  if (parsed.success && errors.length === 0) return { ok: true, value: parsed.data };
  return { ok: false, errors };
}
