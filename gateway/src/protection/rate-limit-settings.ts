import type { EventBus, Unsubscribe } from '@gatehouse/events';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import {
  PUBLISHED_RATE_LIMITS_KEY,
  SETTINGS,
  SETTINGS_CHANGED_TOPIC,
  type SettingsChangedEvent,
  type SettingValue,
} from '@gatehouse/settings';
import type { z } from 'zod';
import type { rateLimitConcern } from '../config';
import type { RateLimitPolicy } from './protection-plugin';

/**
 * The administrator's `rateLimits` setting at the gateway (issue #6/#8). The gateway has no database: access-control
 * publishes the stored setting to the shared key/value store under {@link PUBLISHED_RATE_LIMITS_KEY} (at its start
 * and after every change, then announces `settings.changed`), and this module reads it at start, on every
 * `settings.changed` for `rateLimits`, and every minute in case an event was lost (the bus is at-most-once).
 * No published value, or one this release cannot read, means the RATE_LIMIT_* environment applies.
 */

export { PUBLISHED_RATE_LIMITS_KEY };

/** The limits the gateway enforces, in the shape of the `rateLimits` setting. */
export type RateLimitSettings = SettingValue<'rateLimits'>;

/** What the reader swaps the limits of (the gateway's protection). */
export interface RateLimitSettingsTarget {
  /** Replaces the limits in force at once; undefined restores the RATE_LIMIT_* environment values. */
  setRateLimits(limits: RateLimitSettings | undefined): void;
  /** The limits in force now (the environment's until a setting is applied). */
  readonly rateLimits: RateLimitSettings;
}

/** The RATE_LIMIT_* environment in the shape of the setting. */
export function rateLimitsFromEnv(env: z.output<typeof rateLimitConcern>): RateLimitSettings {
  return {
    windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
    auth: { perIp: env.RATE_LIMIT_AUTH_PER_IP, perUser: env.RATE_LIMIT_AUTH_PER_USER },
    write: { perIp: env.RATE_LIMIT_WRITE_PER_IP, perUser: env.RATE_LIMIT_WRITE_PER_USER },
    read: { perIp: env.RATE_LIMIT_READ_PER_IP, perUser: env.RATE_LIMIT_READ_PER_USER },
    rest: { perIp: env.RATE_LIMIT_REST_PER_IP },
  };
}

/** The GraphQL limiter's policy for a set of limits. */
export function rateLimitPolicyOf(limits: RateLimitSettings): RateLimitPolicy {
  return {
    windowSeconds: limits.windowSeconds,
    perIp: { auth: limits.auth.perIp, write: limits.write.perIp, read: limits.read.perIp },
    perUser: { auth: limits.auth.perUser, write: limits.write.perUser, read: limits.read.perUser },
  };
}

/**
 * The limits in force, swappable while requests are served. Readers take `policy` (or `current`) once per request,
 * so a request is checked against one consistent set. Changing `windowSeconds` starts counting afresh: counters
 * are keyed by window index, which differs for another window length.
 */
export interface RateLimitHolder extends RateLimitSettingsTarget {
  /** The GraphQL policy of {@link RateLimitSettingsTarget.rateLimits}, computed once per change. */
  readonly policy: RateLimitPolicy;
}

export function createRateLimitHolder(fromEnv: RateLimitSettings): RateLimitHolder {
  let current = fromEnv;
  let policy = rateLimitPolicyOf(fromEnv);
  return {
    get rateLimits() {
      return current;
    },
    get policy() {
      return policy;
    },
    setRateLimits(limits) {
      current = limits ?? fromEnv;
      policy = rateLimitPolicyOf(current);
    },
  };
}

/**
 * Reads the published value: the setting's own schema decides what is valid, so a value of another release's
 * shape counts as absent, like an invalid stored setting does for the settings store.
 * @returns the limits, undefined when none is published, or `invalid` when the value cannot be used.
 */
function parsePublished(raw: string | null): RateLimitSettings | undefined | 'invalid' {
  if (raw === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return 'invalid';
  }
  const parsed = SETTINGS.rateLimits.schema.safeParse(json);
  return parsed.success ? parsed.data : 'invalid';
}

export interface RateLimitSettingsReaderOptions {
  /** The store access-control publishes to (the gateway's KV: same Redis, same prefix). */
  readonly kv: Pick<KeyValueStore, 'get'>;
  /** The services' bus; without it, changes arrive with the periodic refresh. */
  readonly events?: Pick<EventBus, 'subscribe'>;
  readonly target: Pick<RateLimitSettingsTarget, 'setRateLimits'>;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
  /** Fallback re-read in case a `settings.changed` event was lost; default 60 000, 0 turns it off (tests). */
  readonly refreshIntervalMs?: number;
}

export interface RateLimitSettingsReader {
  /** Reads the published value now and applies it; a store failure keeps the limits in force (logged). */
  refresh(): Promise<void>;
  /** Stops listening and the periodic refresh. Idempotent. */
  close(): Promise<void>;
}

/**
 * Applies the published `rateLimits` to `target`: once before resolving, then on every `settings.changed` for
 * `rateLimits` and every `refreshIntervalMs`. Never rejects: an unreachable bus or store is logged and the
 * environment's (or last applied) limits stay in force.
 */
export async function startRateLimitSettingsReader(
  options: RateLimitSettingsReaderOptions,
): Promise<RateLimitSettingsReader> {
  const { kv, events, target, logger, refreshIntervalMs = 60_000 } = options;
  let started = 0;
  let applied: string | undefined;

  async function refresh(): Promise<void> {
    const generation = ++started;
    let raw: string | null;
    try {
      raw = await kv.get(PUBLISHED_RATE_LIMITS_KEY);
    } catch (err) {
      logger.warn({ err }, 'published rate limits unreadable; keeping the limits in force');
      return;
    }
    // Reads may finish out of order (an event during the periodic read): only the latest one started counts.
    if (generation !== started) return;
    const published = parsePublished(raw);
    if (published === 'invalid') {
      logger.warn(
        'published rate limits are not valid for this release; using RATE_LIMIT_* from the environment',
      );
    }
    const limits = published === 'invalid' ? undefined : published;
    target.setRateLimits(limits);
    const fingerprint = JSON.stringify(limits ?? null);
    if (fingerprint !== applied) {
      if (applied !== undefined || limits !== undefined) {
        logger.info(
          { rateLimits: limits ?? 'environment' },
          limits ? 'rate limits from the rateLimits setting' : 'rate limits from the environment',
        );
      }
      applied = fingerprint;
    }
  }

  // Subscribed before the first read, so a change published in between is not missed.
  let unsubscribe: Unsubscribe | undefined;
  if (events) {
    try {
      unsubscribe = await events.subscribe<SettingsChangedEvent>(SETTINGS_CHANGED_TOPIC, async (event) => {
        if (event.kind === 'setting' && event.key === 'rateLimits') await refresh();
      });
    } catch (err) {
      logger.warn(
        { err },
        'settings.changed unavailable; rate-limit settings apply with the periodic refresh',
      );
    }
  }
  await refresh();
  const timer =
    refreshIntervalMs > 0
      ? setInterval(() => {
          void refresh();
        }, refreshIntervalMs)
      : undefined;
  timer?.unref();

  let closed = false;
  return {
    refresh,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      await unsubscribe?.();
    },
  };
}
