/** Shared by the export's readers: how times and contact details appear in the document. */

export const iso = (date: Date): string => date.toISOString();
export const isoOrNull = (date: Date | null): string | null => (date === null ? null : date.toISOString());

/** `+15558674567` -> `+*******4567` (same rule as the identity subgraph's MFA screens). */
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
