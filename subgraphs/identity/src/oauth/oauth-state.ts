import { hashToken, type EnvelopeCipher } from '@gatehouse/crypto';
import type { KeyValueStore } from '@gatehouse/kv';

/** A started flow is good for 10 minutes. */
export const STATE_TTL_SECONDS = 600;
/** The callback's result code is good for 2 minutes. */
export const RESULT_CODE_TTL_SECONDS = 120;

/** What `start` remembers about a flow, under the hash of its state. */
export interface PendingFlow {
  provider: string;
  /** The app's landing page (on the allow-list). */
  redirectUri: string;
  /** PKCE verifier; null when the provider was sent no challenge. */
  codeVerifier: string | null;
  nonce: string | null;
  /** Set for a link flow: the signed-in user who started it. */
  linkUserId: string | null;
  /** sha256 of the browser binding cookie for REST-started flows; null for flows the app completes with state. */
  bindingHash: string | null;
  /** Epoch ms; checked against the service clock as well as the store's TTL. */
  expiresAt: number;
}

/** What the callback proved, redeemed by the app with the result code and the flow's state. */
export type FlowResult =
  | {
      kind: 'sign-in';
      userId: string;
      provider: string;
      isNewUser: boolean;
      stateHash: string;
      /**
       * The flow's `bindingHash` (REST-started flows): the code is redeemed only with the browser's completion
       * cookie of the same value, so a forwarded final redirect signs nobody in (login CSRF, issue #14). Absent
       * on results stored before this field existed: treated as null.
       */
      bindingHash?: string | null;
      expiresAt: number;
    }
  | {
      kind: 'link';
      linkUserId: string;
      provider: string;
      /** JSON of the identity and its tokens (tokens already envelope-encrypted). */
      account: string;
      stateHash: string;
      expiresAt: number;
    };

/** Pending flows and results in the key/value store, each readable exactly once. */
export interface OAuthStateStore {
  saveFlow(state: string, flow: PendingFlow): Promise<void>;
  /** The flow, removed; null when unknown, already consumed (by anyone) or expired. */
  consumeFlow(state: string): Promise<PendingFlow | null>;
  saveResult(code: string, result: FlowResult): Promise<void>;
  /** The result, removed; null when unknown, already consumed or expired. */
  consumeResult(code: string): Promise<FlowResult | null>;
}

const flowKey = (state: string) => `oauth:state:${hashToken(state)}`;
const resultKey = (code: string) => `oauth:result:${hashToken(code)}`;

/**
 * Keys are hashes of the state / code (a store dump yields nothing to replay) and values are envelope-encrypted
 * with the key as associated data (the PKCE verifier and nonce stay secret, and a value cannot be moved to
 * another key). Consuming is get-then-delete: only the caller whose delete removed the key gets the value, so two
 * concurrent callbacks with one state cannot both proceed.
 */
export function createOAuthStateStore(options: {
  kv: KeyValueStore;
  cipher: EnvelopeCipher;
  now: () => Date;
}): OAuthStateStore {
  const { kv, cipher, now } = options;

  async function save(key: string, value: object, ttlSeconds: number): Promise<void> {
    await kv.set(key, cipher.encrypt(JSON.stringify(value), key), { ttlSeconds });
  }

  async function consume<T extends { expiresAt: number }>(key: string): Promise<T | null> {
    const stored = await kv.get(key);
    if (stored === null || !(await kv.delete(key))) return null;
    let value: T;
    try {
      value = JSON.parse(cipher.decrypt(stored, key).toString('utf8')) as T;
    } catch {
      return null;
    }
    return value.expiresAt > now().getTime() ? value : null;
  }

  return {
    saveFlow: (state, flow) => save(flowKey(state), flow, STATE_TTL_SECONDS),
    consumeFlow: (state) => consume<PendingFlow>(flowKey(state)),
    saveResult: (code, result) => save(resultKey(code), result, RESULT_CODE_TTL_SECONDS),
    consumeResult: (code) => consume<FlowResult>(resultKey(code)),
  };
}
