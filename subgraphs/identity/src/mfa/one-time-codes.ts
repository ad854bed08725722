import { randomInt } from 'node:crypto';
import { constantTimeEqual, hashToken } from '@gatehouse/crypto';
import type { KeyValueStore } from '@gatehouse/kv';
import { MfaErrorCode } from './error-codes';
import { MfaRateLimitError } from './errors';
import type { MfaDeliveryMethod } from './mfa.types';

/**
 * What a sent code is for. One pending code per user and purpose: a new send replaces the previous code, and a
 * code sent for one purpose never passes another.
 */
export type CodePurpose = 'challenge' | 'enroll-sms' | 'enroll-email' | 'verify';

/** Every purpose, e.g. to forget all pending codes of a user. */
export const CODE_PURPOSES: readonly CodePurpose[] = ['challenge', 'enroll-sms', 'enroll-email', 'verify'];

/** What the code was sent by and for; stored next to the code's hash. */
export interface CodeBinding {
  method: MfaDeliveryMethod;
  /** The factor the code went to (or is being enrolled). */
  factorId: string;
  /** Ties the code to one sign-in challenge (the hash of its MFA token); null for other purposes. */
  challenge: string | null;
}

interface StoredCode extends CodeBinding {
  hash: string;
  /** ISO 8601, checked against the service clock (the KV's TTL removes the entry in real time). */
  expiresAt: string;
}

/** Settings of {@link createOneTimeCodeStore}. */
export interface OneTimeCodeStoreOptions {
  kv: KeyValueStore;
  /** Default 300. */
  ttlSeconds?: number;
  /** Sends per user per `sendWindowSeconds`. Default 3. */
  maxSends?: number;
  /** Default 300. */
  sendWindowSeconds?: number;
  now: () => Date;
}

/**
 * Six-digit codes sent by SMS or e-mail, kept in the key/value store as SHA-256 (of user, purpose and code) with
 * a TTL. A code works once: the caller whose delete removed the entry wins.
 */
export interface OneTimeCodeStore {
  readonly ttlSeconds: number;
  /**
   * Counts one send toward the per-user limit.
   * @throws MfaRateLimitError (MFA_CODE_SEND_LIMIT) beyond the limit, with the seconds until the window ends.
   */
  reserveSend(userId: string): Promise<void>;
  /** Gives back a reserved send whose message never went out (provider failure). */
  releaseSend(userId: string): Promise<void>;
  /** A fresh code for (user, purpose), replacing any pending one. The plain code is only returned, never stored. */
  issue(
    userId: string,
    purpose: CodePurpose,
    binding: CodeBinding,
  ): Promise<{ code: string; expiresAt: Date }>;
  /**
   * Consumes the pending code if `code` is it and it was sent for `challenge` (when given).
   * @returns what the code was bound to, or null (wrong, expired, already used, or for another challenge).
   */
  consume(
    userId: string,
    purpose: CodePurpose,
    code: string,
    expect?: { challenge?: string; factorId?: string },
  ): Promise<CodeBinding | null>;
  /** Forgets the pending code of (user, purpose). */
  discard(userId: string, purpose: CodePurpose): Promise<void>;
}

const codeKey = (userId: string, purpose: CodePurpose) => `mfa:code:${purpose}:${userId}`;
const sendsKey = (userId: string) => `mfa:code-sends:${userId}`;
const codeHash = (userId: string, purpose: CodePurpose, code: string) =>
  hashToken(`${userId}:${purpose}:${code}`);

/** The key/value implementation of {@link OneTimeCodeStore}. */
export function createOneTimeCodeStore(options: OneTimeCodeStoreOptions): OneTimeCodeStore {
  const { kv, now } = options;
  const ttlSeconds = options.ttlSeconds ?? 300;
  const maxSends = options.maxSends ?? 3;
  const sendWindowSeconds = options.sendWindowSeconds ?? 300;

  return {
    ttlSeconds,

    async reserveSend(userId) {
      const key = sendsKey(userId);
      const sends = await kv.increment(key, { ttlSeconds: sendWindowSeconds });
      if (sends <= maxSends) return;
      const retryAfterSeconds = (await kv.ttlSeconds(key)) ?? sendWindowSeconds;
      throw new MfaRateLimitError(
        MfaErrorCode.MFA_CODE_SEND_LIMIT,
        `Too many codes sent; try again in ${retryAfterSeconds} seconds`,
        retryAfterSeconds,
      );
    },

    async releaseSend(userId) {
      await kv.increment(sendsKey(userId), { by: -1, ttlSeconds: sendWindowSeconds });
    },

    async issue(userId, purpose, binding) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const expiresAt = new Date(now().getTime() + ttlSeconds * 1000);
      const entry: StoredCode = {
        ...binding,
        hash: codeHash(userId, purpose, code),
        expiresAt: expiresAt.toISOString(),
      };
      await kv.set(codeKey(userId, purpose), JSON.stringify(entry), { ttlSeconds });
      return { code, expiresAt };
    },

    async consume(userId, purpose, code, expect = {}) {
      const key = codeKey(userId, purpose);
      const raw = await kv.get(key);
      if (raw === null) return null;
      const entry = JSON.parse(raw) as StoredCode;
      if (new Date(entry.expiresAt) <= now()) {
        await kv.delete(key);
        return null;
      }
      // Compared before anything else is looked at, so timing says nothing about how close a guess was.
      const matches = constantTimeEqual(entry.hash, codeHash(userId, purpose, code));
      if (!matches) return null;
      if (expect.challenge !== undefined && entry.challenge !== expect.challenge) return null;
      if (expect.factorId !== undefined && entry.factorId !== expect.factorId) return null;
      // Single use: of concurrent correct submissions only the one whose delete removed the entry passes.
      if (!(await kv.delete(key))) return null;
      return { method: entry.method, factorId: entry.factorId, challenge: entry.challenge };
    },

    async discard(userId, purpose) {
      await kv.delete(codeKey(userId, purpose));
    },
  };
}
