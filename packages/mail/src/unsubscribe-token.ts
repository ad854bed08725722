import { createHmac, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { constantTimeEqual } from '@gatehouse/crypto';
import { isLockedCategory, MAIL_CATEGORIES, type MailCategory } from './categories';

/** How long a one-click unsubscribe link works: 90 days, long enough for mail read late or archived. */
export const UNSUBSCRIBE_TOKEN_TTL_SECONDS = 90 * 24 * 3600;

/** Shortest accepted secret, in bytes (HMAC-SHA256 gains nothing from more than 64). */
export const UNSUBSCRIBE_SECRET_MIN_BYTES = 32;

/** The `deriveSecret` purpose label of the unsubscribe signing secret (identity signs, account verifies). */
export const UNSUBSCRIBE_SECRET_PURPOSE = 'unsubscribe-links:v1';

/** What a one-click unsubscribe token says: "user `userId` no longer wants `category` mail on `channel`". */
export interface UnsubscribeClaims {
  /** Unique per link; becomes the id of the `unsubscribe_receipts` row, which makes the link single-use. */
  jti: string;
  userId: string;
  /** Only EMAIL links are minted today. */
  channel: 'EMAIL';
  /** Never a locked category (`security`, `account`). */
  category: MailCategory;
  expiresAt: Date;
}

export type UnsubscribeTokenCheck =
  | { ok: true; claims: UnsubscribeClaims }
  /** `INVALID`: not a token of ours (malformed or bad signature); `EXPIRED`: signed by us but too old. */
  | { ok: false; reason: 'INVALID' | 'EXPIRED' };

export interface UnsubscribeTokens {
  /**
   * A new signed token (base64url, URL-safe) for `category` mail to `userId`.
   * @throws RangeError for a locked category: security and account mail never carry an unsubscribe link.
   */
  mint(input: { userId: string; category: MailCategory }): { token: string; claims: UnsubscribeClaims };
  /** Checks the signature (in constant time), then the expiry; never throws for bad input. */
  verify(token: string): UnsubscribeTokenCheck;
}

export interface UnsubscribeTokenOptions {
  /** UNSUBSCRIBE_SECRET: at least 32 bytes. Rotating it invalidates every link already mailed. */
  secret: string | Uint8Array;
  /** Default {@link UNSUBSCRIBE_TOKEN_TTL_SECONDS}. */
  ttlSeconds?: number;
  /** The clock (tests move it). */
  now?: () => Date;
}

/** Separates these MACs from any other use of the same secret. */
const DOMAIN = 'gatehouse.unsubscribe.v1';

const payloadSchema = z.strictObject({
  jti: z.uuid(),
  sub: z.uuid(),
  ch: z.literal('EMAIL'),
  cat: z.enum(MAIL_CATEGORIES).refine((category) => !isLockedCategory(category)),
  exp: z.number().int().positive(),
});

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Tokens are ~250 characters; anything far longer is not ours and is not worth decoding. */
const MAX_TOKEN_LENGTH = 1024;

/**
 * Signed one-click unsubscribe tokens: `base64url(JSON {jti, sub, ch, cat, exp}) "." base64url(HMAC-SHA256)`.
 * Stateless to mint (the worker mints one per mail); single use is enforced where the link is redeemed, by
 * recording the `jti`.
 */
export function createUnsubscribeTokens(options: UnsubscribeTokenOptions): UnsubscribeTokens {
  const secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options.secret;
  if (secret.byteLength < UNSUBSCRIBE_SECRET_MIN_BYTES) {
    throw new RangeError(`UNSUBSCRIBE_SECRET must be at least ${UNSUBSCRIBE_SECRET_MIN_BYTES} bytes`);
  }
  const ttlSeconds = options.ttlSeconds ?? UNSUBSCRIBE_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError('createUnsubscribeTokens: ttlSeconds must be a positive integer');
  }
  const now = options.now ?? (() => new Date());
  const sign = (payload: string): string =>
    createHmac('sha256', secret).update(`${DOMAIN}.${payload}`).digest('base64url');

  return {
    mint({ userId, category }) {
      if (isLockedCategory(category)) {
        throw new RangeError(`no unsubscribe link for ${category} mail: it cannot be switched off`);
      }
      const claims: UnsubscribeClaims = {
        jti: randomUUID(),
        userId,
        channel: 'EMAIL',
        category,
        expiresAt: new Date((Math.floor(now().getTime() / 1000) + ttlSeconds) * 1000),
      };
      const body = payloadSchema.parse({
        jti: claims.jti,
        sub: userId,
        ch: claims.channel,
        cat: category,
        exp: claims.expiresAt.getTime() / 1000,
      });
      const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
      return { token: `${payload}.${sign(payload)}`, claims };
    },

    verify(token) {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH)
        return { ok: false, reason: 'INVALID' };
      const [payload, mac, ...rest] = token.split('.');
      if (!payload || !mac || rest.length > 0 || !BASE64URL.test(payload) || !BASE64URL.test(mac)) {
        return { ok: false, reason: 'INVALID' };
      }
      if (!constantTimeEqual(mac, sign(payload))) return { ok: false, reason: 'INVALID' };
      let decoded: unknown;
      try {
        decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return { ok: false, reason: 'INVALID' };
      }
      const parsed = payloadSchema.safeParse(decoded);
      if (!parsed.success) return { ok: false, reason: 'INVALID' };
      const { jti, sub, cat, exp } = parsed.data;
      if (now().getTime() >= exp * 1000) return { ok: false, reason: 'EXPIRED' };
      return {
        ok: true,
        claims: { jti, userId: sub, channel: 'EMAIL', category: cat, expiresAt: new Date(exp * 1000) },
      };
    },
  };
}
