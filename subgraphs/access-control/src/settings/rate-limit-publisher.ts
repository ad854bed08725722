import type { EventBus } from '@gatehouse/events';
import type { KeyValueStore } from '@gatehouse/kv';
import type { SubgraphAppDependencies } from '@gatehouse/service';
import {
  PUBLISHED_RATE_LIMITS_KEY,
  SETTINGS_CHANGED_TOPIC,
  type SettingKey,
  type SettingsActor,
  type SettingsChangedEvent,
  type SettingsStore,
  type SettingValue,
  type SettingView,
} from '@gatehouse/settings';

/**
 * The `rateLimits` setting for the gateway (issue #6/#8). The gateway enforces the limits but has no database, so
 * this side publishes the stored value to the shared key/value store: at start, and after every change made
 * through this process's settings store. The gateway reads it on `settings.changed` (and every minute).
 *
 * The settings store announces `settings.changed` inside `set`, before this module has written the key, so a
 * gateway reacting to that first event may still read the previous value; a second announcement after the write
 * guarantees the last event it sees comes after the value it must read.
 */

export { PUBLISHED_RATE_LIMITS_KEY };

const KEY = 'rateLimits' satisfies SettingKey;

export interface RateLimitPublisherOptions {
  /** The process's settings store (what `updateSetting` writes through). */
  readonly store: SettingsStore;
  /** The store every service shares (the gateway reads the same Redis, same prefix). */
  readonly kv: Pick<KeyValueStore, 'set' | 'delete'>;
  /** The services' bus: `settings.changed` once the value is published. */
  readonly events?: Pick<EventBus, 'publish'>;
  readonly logger: Pick<SubgraphAppDependencies['logger'], 'warn'>;
}

export interface RateLimitPublisher {
  /**
   * Publishes the stored setting now: the value when stored and valid for this release, else removes the
   * published key. For a process start. Never rejects (a failure is logged; the next start or change retries).
   */
  publish(): Promise<void>;
  /** `store`, whose changes of `rateLimits` are published once stored (give this one to the admin service). */
  readonly store: SettingsStore;
}

export function createRateLimitPublisher(options: RateLimitPublisherOptions): RateLimitPublisher {
  const { store: inner, kv, events, logger } = options;

  async function write(value: SettingValue<typeof KEY> | undefined): Promise<void> {
    try {
      if (value === undefined) await kv.delete(PUBLISHED_RATE_LIMITS_KEY);
      else await kv.set(PUBLISHED_RATE_LIMITS_KEY, JSON.stringify(value));
    } catch (err) {
      // The change itself is stored and audited; the gateway keeps its previous limits until the next publication.
      logger.warn({ err }, 'rate limits not published to the gateway');
      return;
    }
    if (!events) return;
    try {
      await events.publish<SettingsChangedEvent>(SETTINGS_CHANGED_TOPIC, { kind: 'setting', key: KEY });
    } catch (err) {
      logger.warn({ err }, 'settings.changed not announced; the gateway re-reads within a minute');
    }
  }

  async function published<V extends SettingView>(view: V): Promise<V> {
    // The value just stored, as the schema returned it: what the store itself reads back.
    if (view.key === KEY) await write(view.value as SettingValue<typeof KEY>);
    return view;
  }

  const store: SettingsStore = {
    get ready() {
      return inner.ready;
    },
    get: (key) => inner.get(key),
    getStored: (key) => inner.getStored(key),
    set: async <K extends SettingKey>(key: K, value: unknown, actor: SettingsActor) =>
      published(await inner.set(key, value, actor)),
    setByName: async (key, value, actor) => published(await inner.setByName(key, value, actor)),
    list: () => inner.list(),
    isEnabled: (key, evaluation) => inner.isEnabled(key, evaluation),
    setFlag: (key, input, actor) => inner.setFlag(key, input, actor),
    listFlags: () => inner.listFlags(),
    close: () => inner.close(),
  };

  return {
    store,
    async publish() {
      let stored: SettingValue<typeof KEY> | undefined;
      try {
        // Undefined when never stored, and when the stored value has an earlier release's shape.
        stored = await inner.getStored(KEY);
      } catch (err) {
        logger.warn({ err }, 'rate limits not published to the gateway: the setting is unreadable');
        return;
      }
      await write(stored);
    },
  };
}
