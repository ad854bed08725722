import { createHmac } from 'node:crypto';
import type { KeyValueStore } from '@gatehouse/kv';

/** Default: at most 3 mails of one kind to one address per 15 minutes. */
export const MAIL_THROTTLE_LIMIT = 3;
export const MAIL_THROTTLE_WINDOW_SECONDS = 15 * 60;

/** The mails anyone can make us send to any address (security issue #14: mail flooding). */
export type ThrottledMail = 'verify-email' | 'password-reset' | 'registration-notice';

export interface MailThrottle {
  /**
   * Counts one mail of `kind` to `email` (already normalised) and says whether it may go. Callers answer the same
   * either way: a refused mail is silently not sent.
   */
  allow(kind: ThrottledMail, email: string): Promise<boolean>;
}

export interface MailThrottleOptions {
  kv: KeyValueStore;
  /**
   * Keys the address hash (HMAC-SHA256), so whoever can read the store cannot test a list of addresses against its
   * keys. Derived from the encryption keys in production wiring.
   */
  addressKey: Buffer;
  limit?: number;
  windowSeconds?: number;
  /** Receives KV errors; the mail is then sent (a store outage must not stop sign-ups and resets). */
  logger?: { warn(details: object, message: string): void };
}

/**
 * A fixed window per recipient and kind in the shared store. The key holds a keyed hash of the address, never the
 * address itself (a store dump must not list who signed up, nor confirm a guess).
 */
export function createMailThrottle(options: MailThrottleOptions): MailThrottle {
  const { kv, logger } = options;
  const limit = options.limit ?? MAIL_THROTTLE_LIMIT;
  const windowSeconds = options.windowSeconds ?? MAIL_THROTTLE_WINDOW_SECONDS;
  return {
    async allow(kind, email) {
      const address = createHmac('sha256', options.addressKey)
        .update(email.trim().toLowerCase())
        .digest('hex');
      const key = `mail-throttle:${kind}:${address}`;
      try {
        return (await kv.increment(key, { ttlSeconds: windowSeconds })) <= limit;
      } catch (err) {
        logger?.warn({ err, kind }, 'mail throttle: KV unavailable, sending the mail');
        return true;
      }
    },
  };
}

/** Runs `work`, then waits until at least `minMs` passed since the start, whatever `work` did or threw. */
export async function atLeast<T>(minMs: number, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    const left = minMs - (Date.now() - started);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }
}
