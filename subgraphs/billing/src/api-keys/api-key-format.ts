import { randomBytes } from 'node:crypto';

/** Every API key starts with this, so secret scanners (and people) recognise a leaked Gatehouse key. */
export const API_KEY_MARKER = 'gh';

/**
 * `prefix`: 8 random bytes as lower-case hex. Hex on purpose: it never contains `_`, so the first `_` after it
 * ends it even though the base64url secret may contain `_` itself.
 */
const PREFIX_PATTERN = /^[0-9a-f]{16}$/;
/** 32 random bytes, base64url without padding: always 43 characters. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface ApiKeyParts {
  /** Public, unique part: shown in lists and used to find the row. */
  prefix: string;
  /** Never stored: only a SHA-256 of the whole key is. */
  secret: string;
}

/** A fresh key `gh_<prefix>_<secret>` and its parts. */
export function generateApiKey(): ApiKeyParts & { key: string } {
  const prefix = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { prefix, secret, key: formatApiKey({ prefix, secret }) };
}

export function formatApiKey(parts: ApiKeyParts): string {
  return `${API_KEY_MARKER}_${parts.prefix}_${parts.secret}`;
}

/** Splits a presented key; null when it does not have the shape of one of ours (nothing is looked up then). */
export function parseApiKey(presented: string): ApiKeyParts | null {
  if (!presented.startsWith(`${API_KEY_MARKER}_`)) return null;
  const rest = presented.slice(API_KEY_MARKER.length + 1);
  const separator = rest.indexOf('_');
  if (separator === -1) return null;
  const prefix = rest.slice(0, separator);
  const secret = rest.slice(separator + 1);
  if (!PREFIX_PATTERN.test(prefix) || !SECRET_PATTERN.test(secret)) return null;
  return { prefix, secret };
}

/** Whether a bearer token looks like an API key (rather than an access token or a service token). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(`${API_KEY_MARKER}_`);
}
