import { emailSchema } from '../../credentials';

/** The provider's address, normalised like a registration's (trimmed, lower-cased, valid); otherwise null. */
export function normalizeProviderEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const parsed = emailSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** A display name from the provider, or null: trimmed, control characters dropped, at most 100 characters. */
export function normalizeDisplayName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const controlCharacters = /[\u0000-\u001f\u007f]/g;
  const cleaned = value.normalize('NFC').replace(controlCharacters, '').trim();
  return cleaned ? cleaned.slice(0, 100) : null;
}

/** OpenID Connect's `email_verified` is a boolean; some providers send the string "true". */
export function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}
