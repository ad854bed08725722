import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Kind, type DocumentNode } from 'graphql';
import { GatehouseError, NetworkError } from './errors.js';
import type { OperationMeta, OperationOptions, Transport } from './transport.js';

/**
 * Root fields that are never sent twice, whatever their operation's metadata says: a repeated sign-in counts
 * towards the lockout and a second `verifyMfa` burns the challenge; a refresh token is single-use, so resending
 * one whose answer was lost would look like token theft and end the session.
 */
export const NEVER_RETRIED_FIELDS: ReadonlySet<string> = new Set([
  'login',
  'verifyMfa',
  'refreshToken',
  'completeOAuthLogin',
  'sendMfaCode',
]);

export interface RetryPolicyOptions {
  /** Attempts in all, the first included. Default 3; 1 turns retries off. */
  maxAttempts?: number;
  /** Backoff base: attempt n waits a random time in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. Default 250 ms. */
  baseDelayMs?: number;
  /** Cap of the exponential backoff. Default 10 s. */
  maxDelayMs?: number;
  /** A `Retry-After` longer than this is not waited for: the error is thrown at once. Default 60 s. */
  maxRetryAfterMs?: number;
  /** [0, 1) source of the jitter. Default `Math.random`. */
  random?: () => number;
  /** Waits `ms` (tests record the durations). Default: a timer, cut short by the signal. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Clock for `Retry-After` HTTP-dates, epoch ms. Default `Date.now`. */
  now?: () => number;
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  /** Whether this operation may be retried at all. */
  mayRetry(document: DocumentNode, meta: OperationMeta): boolean;
  /** The wait before attempt `attempt + 1` after `error`, or undefined when the error is not worth retrying. */
  delayAfter(error: unknown, attempt: number): number | undefined;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** `Retry-After` in milliseconds from now: delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,9}$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP-date form starts with the day name; Date.parse alone would take "-1" or "1.5" for dates.
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

function rootFieldNames(document: DocumentNode): string[] {
  const names: string[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    for (const selection of definition.selectionSet.selections) {
      if (selection.kind === Kind.FIELD) names.push(selection.name.value);
    }
  }
  return names;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Exponential backoff with full jitter, for operations marked idempotent only. Retried: network failures, HTTP
 * 429/502/503/504, and the codes `RATE_LIMITED` and `SERVICE_UNAVAILABLE`. A `Retry-After` (header, or
 * `details.retryAfterSeconds`) replaces the backoff.
 */
export function createRetryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 3));
  const baseDelayMs = options.baseDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;

  const backoff = (attempt: number) =>
    Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));

  const retryAfterOf = (error: GatehouseError | NetworkError): number | undefined => {
    const fromHeader = parseRetryAfter(error.retryAfter, now());
    if (fromHeader !== undefined) return fromHeader;
    const seconds = error instanceof GatehouseError ? error.details?.retryAfterSeconds : undefined;
    return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0
      ? seconds * 1000
      : undefined;
  };

  return {
    maxAttempts,
    sleep: options.sleep ?? defaultSleep,
    mayRetry(document, meta) {
      if (!meta.idempotent || meta.kind === 'subscription') return false;
      return !rootFieldNames(document).some((field) => NEVER_RETRIED_FIELDS.has(field));
    },
    delayAfter(error, attempt) {
      if (attempt >= maxAttempts) return undefined;
      let retryable: boolean;
      if (error instanceof NetworkError) {
        // No status: the request never got an answer. A status: only the transient ones.
        retryable = error.status === undefined || RETRYABLE_STATUS.has(error.status);
      } else if (error instanceof GatehouseError) {
        retryable =
          error.code === 'RATE_LIMITED' ||
          error.code === 'SERVICE_UNAVAILABLE' ||
          (error.status !== undefined && RETRYABLE_STATUS.has(error.status));
      } else {
        retryable = false;
      }
      if (!retryable) return undefined;
      const retryAfter = retryAfterOf(error as GatehouseError | NetworkError);
      if (retryAfter !== undefined) return retryAfter > maxRetryAfterMs ? undefined : retryAfter;
      return backoff(attempt);
    },
  };
}

/** `transport` with `policy` applied: the same interface, so it composes with any other layer. */
export function withRetry(transport: Transport, policy: RetryPolicy): Transport {
  const retrying: Transport = {
    async execute<TResult, TVariables>(
      document: TypedDocumentNode<TResult, TVariables>,
      variables: TVariables,
      meta: OperationMeta,
      options?: OperationOptions,
    ): Promise<TResult> {
      if (!policy.mayRetry(document, meta)) return transport.execute(document, variables, meta, options);
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await transport.execute(document, variables, meta, options);
        } catch (error) {
          const delay = policy.delayAfter(error, attempt);
          if (delay === undefined || options?.signal?.aborted) throw error;
          await policy.sleep(delay, options?.signal);
        }
      }
    },
  };
  // Subscriptions are long-lived streams with their own reconnect logic: passed through untouched.
  if (transport.subscribe) retrying.subscribe = transport.subscribe.bind(transport);
  return retrying;
}
