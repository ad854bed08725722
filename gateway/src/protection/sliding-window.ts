import type { KeyValueStore } from '@gatehouse/kv';

/**
 * Sliding-window rate limiting over the platform's {@link KeyValueStore} (Redis in production, in-process in the
 * embedded deployment), with the two-window weighted counter:
 *
 *   estimate = previousWindowCount × (1 − elapsedInCurrentWindow / window) + currentWindowCount
 *
 * It smooths the burst a fixed window allows at its edges (2× the limit across a boundary) while costing one
 * counter per window instead of one sorted-set entry per request. Each check is an atomic INCRBY of the current
 * window's counter plus a GET of the previous one, sent together; all checks of a request are sent at once, so
 * Redis costs one network round trip per request however many keys are checked (ioredis writes every command of
 * the batch before the first answer arrives). The estimate assumes requests of the previous window were evenly
 * spread, which is the usual and documented approximation (Cloudflare measured 0.003 % wrongly allowed/refused).
 *
 * A refused request is rolled back (its cost subtracted again): a client hammering past its limit gets exactly
 * its limit served per window, and its refused attempts do not push its own recovery further out.
 */

export interface RateLimitCheck {
  /** Who and what is counted, e.g. `auth:ip:203.0.113.7` or `read:user:<uuid>`. */
  readonly key: string;
  /** Allowed cost per window. */
  readonly limit: number;
  readonly windowSeconds: number;
  /** How much this request costs (root-field invocations); default 1. */
  readonly cost?: number;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** When refused: whole seconds (at least 1) after which the same request would fit. 0 when allowed. */
  readonly retryAfterSeconds: number;
  /** When refused: the key of the refusing check with the longest wait. */
  readonly refusedKey?: string;
}

export interface SlidingWindowLimiter {
  /** Counts `checks` atomically per key; allowed only when every check fits. */
  consume(checks: readonly RateLimitCheck[]): Promise<RateLimitDecision>;
}

export interface SlidingWindowLimiterOptions {
  readonly kv: Pick<KeyValueStore, 'increment' | 'get'>;
  /** Namespace inside the store; default `rate`. */
  readonly prefix?: string;
  /** Clock in epoch milliseconds (tests inject one). */
  readonly now?: () => number;
  /**
   * Called when the store fails; the request is then allowed (fail open): an unavailable Redis must not take
   * the whole API down, and identity keeps its own per-account login lockout in PostgreSQL-backed state.
   */
  readonly onStoreError?: (error: unknown) => void;
}

const ALLOWED: RateLimitDecision = { allowed: true, retryAfterSeconds: 0 };

/**
 * Milliseconds from `elapsed` (into the current window) until a request of `cost` fits, given the counts
 * before it. Pure; exported for the unit tests.
 */
export function millisecondsUntilFits(input: {
  previous: number;
  currentBefore: number;
  cost: number;
  limit: number;
  windowMs: number;
  elapsedMs: number;
}): number {
  const { previous, currentBefore, cost, limit, windowMs, elapsedMs } = input;
  if (cost > limit) return 2 * windowMs - elapsedMs; // never fits; tell the client to back off a full window
  const room = limit - cost - currentBefore;
  if (room >= 0) {
    // Fits later in this window, once the previous window's weight has decayed enough.
    if (previous <= 0) return 0;
    const weightNeeded = room / previous; // (windowMs - e) / windowMs <= weightNeeded
    return Math.max(0, windowMs * (1 - weightNeeded) - elapsedMs);
  }
  // Only in the next window, where this window's count becomes the decaying previous one.
  const untilNext = windowMs - elapsedMs;
  const weightNeeded = (limit - cost) / currentBefore;
  return untilNext + windowMs * (1 - weightNeeded);
}

export function createSlidingWindowLimiter(options: SlidingWindowLimiterOptions): SlidingWindowLimiter {
  const { kv, prefix = 'rate', now = Date.now, onStoreError = () => undefined } = options;

  return {
    async consume(checks) {
      if (checks.length === 0) return ALLOWED;
      const at = now();
      const planned = checks.map((check) => {
        const windowMs = check.windowSeconds * 1000;
        const index = Math.floor(at / windowMs);
        return {
          check,
          cost: check.cost ?? 1,
          windowMs,
          elapsedMs: at - index * windowMs,
          currentKey: `${prefix}:${check.key}:${index}`,
          previousKey: `${prefix}:${check.key}:${index - 1}`,
        };
      });

      let counts: { current: number; previous: number }[];
      try {
        // Issued together (not awaited one by one): one round trip on a pipelining client.
        counts = await Promise.all(
          planned.map(async (p) => {
            const [current, previous] = await Promise.all([
              // The counter outlives its window by one more, while it serves as the "previous" count.
              kv.increment(p.currentKey, { by: p.cost, ttlSeconds: p.check.windowSeconds * 2 }),
              kv.get(p.previousKey),
            ]);
            return { current, previous: Number(previous ?? 0) || 0 };
          }),
        );
      } catch (error) {
        onStoreError(error);
        return ALLOWED;
      }

      let refused: RateLimitDecision | undefined;
      planned.forEach((p, i) => {
        const { current, previous } = counts[i]!;
        const estimate = previous * ((p.windowMs - p.elapsedMs) / p.windowMs) + current;
        if (estimate <= p.check.limit) return;
        const waitMs = millisecondsUntilFits({
          previous,
          currentBefore: current - p.cost,
          cost: p.cost,
          limit: p.check.limit,
          windowMs: p.windowMs,
          elapsedMs: p.elapsedMs,
        });
        const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
        if (!refused || retryAfterSeconds > refused.retryAfterSeconds) {
          refused = { allowed: false, retryAfterSeconds, refusedKey: p.check.key };
        }
      });
      if (!refused) return ALLOWED;

      // Nothing of a refused request is served, so nothing of it counts.
      await Promise.all(planned.map((p) => kv.increment(p.currentKey, { by: -p.cost }))).catch(onStoreError);
      return refused;
    },
  };
}
