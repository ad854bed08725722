/** E.164: `+`, a country code not starting with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * The E.164 form of what a person typed (spaces, hyphens, dots and parentheses dropped), or null when it is not
 * an international number.
 */
export function normalizePhoneNumber(input: string): string | null {
  if (input.length > 32) return null;
  const compact = input.replace(/[\s().-]/g, '');
  return E164.test(compact) ? compact : null;
}

/** `+15558674567` -> `+*******4567`: enough to recognise one's own number, not enough to learn someone else's. */
export function maskPhoneNumber(phoneNumber: string): string {
  const digits = phoneNumber.replace(/^\+/, '');
  const shown = digits.slice(-4);
  return `+${'*'.repeat(Math.max(digits.length - shown.length, 0))}${shown}`;
}

/** `alice@example.com` -> `a***@example.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}
