import { createAuditWriter, type AuditActorFields, type AuditMetadataValue } from '@gatehouse/audit';
import type { Prisma, PrismaClient } from '@gatehouse/db';
import type { EventBus, Unsubscribe } from '@gatehouse/events';
import type { KeyValueStore } from '@gatehouse/kv';
import { issuesOf, settingsInputError, SettingsErrorCode } from './error-codes';
import {
  evaluateFlag,
  featureFlagInputSchema,
  featureFlagKeySchema,
  rulesOf,
  targetingFromRules,
  type FeatureFlagConfig,
  type FeatureFlagInput,
} from './feature-flags';
import {
  isSettingKey,
  SETTING_KEYS,
  SETTINGS,
  type EmailTemplateOverride,
  type OverridableEmailTemplate,
  type SettingCategory,
  type SettingDefinition,
  type SettingKey,
  type SettingValue,
} from './registry';
import { TwoLevelCache, type CacheErrorReporter } from './two-level-cache';

/** Audit actions written by this package. Stored verbatim in audit_logs.action; never rename one. */
export const SettingsAuditAction = {
  SETTING_CHANGED: 'SETTING_CHANGED',
  FEATURE_FLAG_CHANGED: 'FEATURE_FLAG_CHANGED',
} as const;

export type SettingsAuditAction = (typeof SettingsAuditAction)[keyof typeof SettingsAuditAction];

/** The bus topic on which a change tells every process to drop its cached entry at once. */
export const SETTINGS_CHANGED_TOPIC = 'settings.changed';

/** Payload of {@link SETTINGS_CHANGED_TOPIC}. Carries no value: receivers re-read from the shared store. */
export interface SettingsChangedEvent {
  kind: 'setting' | 'flag';
  key: string;
}

/** Who changes a setting: the audit trail's actor fields (`auditFieldsFromViewer(viewer, client)`). */
export type SettingsActor = AuditActorFields & { actorUserId: string };

/** One setting as the admin API shows it. */
export interface SettingView<K extends SettingKey = SettingKey> {
  key: K;
  /** The effective value: the stored one when it is valid, else the default. */
  value: SettingValue<K>;
  defaultValue: SettingValue<K>;
  description: string;
  category: SettingCategory;
  /** Number of changes so far (0: never set). */
  version: number;
  /** Last change, or null when the default applies because it was never set. */
  updatedAt: Date | null;
}

/** A flag as the admin API shows it. */
export interface FeatureFlagView extends Omit<FeatureFlagConfig, 'updatedAt'> {
  version: number;
  updatedAt: Date;
}

export interface SettingsStore {
  /** The effective value of a setting (validated stored value, else the default), cached for `ttlSeconds`. */
  get<K extends SettingKey>(key: K): Promise<SettingValue<K>>;
  /**
   * The stored value of a setting when an administrator set it (version >= 1) and it is still valid, else
   * undefined; cached like {@link get}. For readers whose fallback is not the registry default (identity keeps
   * its environment values until a setting is stored).
   */
  getStored<K extends SettingKey>(key: K): Promise<SettingValue<K> | undefined>;
  /**
   * Validates and stores a value, with an audit row SETTING_CHANGED (previous and new value, version) in the
   * same transaction; then refreshes the shared cache and tells other processes to drop theirs.
   * @throws AppError BAD_USER_INPUT with reason SETTING_UNKNOWN or SETTING_INVALID (`details.issues`).
   */
  set<K extends SettingKey>(key: K, value: unknown, actor: SettingsActor): Promise<SettingView<K>>;
  /** {@link set} for a key from outside (GraphQL): an unregistered key is SETTING_UNKNOWN. */
  setByName(key: string, value: unknown, actor: SettingsActor): Promise<SettingView>;
  /** Every registered setting with its effective value and version, straight from the database (2 queries). */
  list(): Promise<SettingView[]>;
  /** Whether a flag is on for a user (see `evaluateFlag`); a missing flag is off. Cached like settings. */
  isEnabled(key: string, options?: { userId?: string | null }): Promise<boolean>;
  /**
   * Creates or replaces a flag's configuration, audited FEATURE_FLAG_CHANGED with previous and new configuration.
   * @throws AppError BAD_USER_INPUT with reason FEATURE_FLAG_INVALID.
   */
  setFlag(key: string, input: FeatureFlagInput, actor: SettingsActor): Promise<FeatureFlagView>;
  /** Every flag, by key, from the database. */
  listFlags(): Promise<FeatureFlagView[]>;
  /** Resolves once this store listens for other processes' invalidations (immediately without a bus). */
  readonly ready: Promise<void>;
  /** Stops listening to the bus. Does not close the bus, KV or Prisma (the caller owns them). */
  close(): Promise<void>;
}

export interface SettingsStoreOptions {
  prisma: PrismaClient;
  /** Shared cache of every replica. */
  kv: KeyValueStore;
  /**
   * Invalidation across processes. Without it, other processes see a change when their local entry expires
   * (at most `ttlSeconds`); the shared KV entry is refreshed at once either way.
   */
  events?: EventBus;
  /** How long an entry lives in this process and in KV. Default 30. */
  ttlSeconds?: number;
  /** Cache and bus failures (the database answers instead). Default: console.warn. */
  onCacheError?: CacheErrorReporter;
  now?: () => number;
}

const SETTING_TARGET = 'Setting';
const FLAG_TARGET = 'FeatureFlag';

/** What is cached of a setting: the stored row's value (unvalidated) and time, or nulls when it was never set. */
interface StoredSetting {
  value: Prisma.JsonValue | null;
  updatedAt: string | null;
}

function effectiveValue<K extends SettingKey>(key: K, stored: Prisma.JsonValue | null): SettingValue<K> {
  const definition = SETTINGS[key] as SettingDefinition<SettingValue<K>>;
  if (stored === null) return structuredClone(definition.default);
  const parsed = definition.schema.safeParse(stored);
  // An invalid stored value (hand-edited row, a schema tightened in a release) must not break readers.
  return parsed.success ? parsed.data : structuredClone(definition.default);
}

function flagConfigOf(row: {
  key: string;
  enabled: boolean;
  rules: Prisma.JsonValue;
  description: string | null;
  updatedAt: Date;
}): FeatureFlagConfig {
  return {
    key: row.key,
    enabled: row.enabled,
    ...targetingFromRules(row.rules),
    description: row.description,
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Serialises changes of one key (the version is a count of earlier changes, so two writers must not overlap). */
async function lockKey(tx: Prisma.TransactionClient, namespace: string, key: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`${namespace}:${key}`}))`;
}

/** Number of audited changes per target id, in one grouped query on the (target_type, target_id, created_at) index. */
async function versionsOf(
  db: Pick<PrismaClient, '$queryRaw'> | Prisma.TransactionClient,
  targetType: string,
  action: SettingsAuditAction,
  keys: string[],
): Promise<Map<string, number>> {
  if (keys.length === 0) return new Map();
  const rows = await db.$queryRaw<{ target_id: string; changes: number }[]>`
    SELECT target_id, count(*)::int AS changes
    FROM audit_logs
    WHERE target_type = ${targetType} AND target_id = ANY(${keys}::text[]) AND action = ${action}
    GROUP BY target_id`;
  return new Map(rows.map((row) => [row.target_id, row.changes]));
}

/** Reads and changes settings and feature flags. One per process; share it. */
export function createSettingsStore(options: SettingsStoreOptions): SettingsStore {
  const { prisma, kv, events } = options;
  const ttlSeconds = options.ttlSeconds ?? 30;
  const onError: CacheErrorReporter =
    options.onCacheError ??
    ((error, { key }) => console.warn(`settings cache: "${key}" served from the database`, error));

  const settingsCache = new TwoLevelCache<StoredSetting>({
    kv,
    kvKey: (key) => `settings:v1:${key}`,
    ttlSeconds,
    onError,
    ...(options.now ? { now: options.now } : {}),
    load: async (key) => {
      const row = await prisma.setting.findUnique({
        where: { key },
        select: { value: true, updatedAt: true },
      });
      return row
        ? { value: row.value, updatedAt: row.updatedAt.toISOString() }
        : { value: null, updatedAt: null };
    },
  });
  const flagCache = new TwoLevelCache<FeatureFlagConfig | null>({
    kv,
    kvKey: (key) => `feature-flags:v1:${key}`,
    ttlSeconds,
    onError,
    ...(options.now ? { now: options.now } : {}),
    load: async (key) => {
      const row = await prisma.featureFlag.findUnique({ where: { key } });
      return row ? flagConfigOf(row) : null;
    },
  });

  let unsubscribe: Unsubscribe | undefined;
  let closed = false;
  const ready: Promise<void> = events
    ? events
        .subscribe<SettingsChangedEvent>(SETTINGS_CHANGED_TOPIC, (event) => {
          if (event.kind === 'setting') settingsCache.dropLocal(event.key);
          else flagCache.dropLocal(event.key);
        })
        .then(async (stop) => {
          unsubscribe = stop;
          if (closed) await stop();
        })
    : Promise.resolve();
  // Callers that never await `ready` must not see an unhandled rejection; awaiting it still rejects.
  ready.catch((error: unknown) => onError(error, { key: SETTINGS_CHANGED_TOPIC }));

  async function announce(event: SettingsChangedEvent): Promise<void> {
    if (!events) return;
    try {
      await events.publish(SETTINGS_CHANGED_TOPIC, event);
    } catch (error) {
      onError(error, { key: event.key });
    }
  }

  async function set<K extends SettingKey>(
    key: K,
    value: unknown,
    actor: SettingsActor,
  ): Promise<SettingView<K>> {
    if (!isSettingKey(key)) {
      throw settingsInputError(SettingsErrorCode.SETTING_UNKNOWN, 'There is no such setting.', key);
    }
    const definition = SETTINGS[key] as SettingDefinition<SettingValue<K>>;
    const parsed = definition.schema.safeParse(value);
    if (!parsed.success) {
      throw settingsInputError(
        SettingsErrorCode.SETTING_INVALID,
        'The value is not valid for this setting.',
        key,
        issuesOf(parsed.error),
      );
    }
    const newValue = parsed.data as Prisma.InputJsonValue;
    const { row, version } = await prisma.$transaction(async (tx) => {
      await lockKey(tx, 'settings', key);
      const previous = await tx.setting.findUnique({ where: { key }, select: { value: true } });
      const version = ((await versionsOf(tx, SETTING_TARGET, 'SETTING_CHANGED', [key])).get(key) ?? 0) + 1;
      const row = await tx.setting.upsert({
        where: { key },
        create: { key, value: newValue, description: definition.description },
        update: { value: newValue },
        select: { value: true, updatedAt: true },
      });
      await createAuditWriter<SettingsAuditAction>(tx).record({
        action: 'SETTING_CHANGED',
        outcome: 'SUCCESS',
        ...actor,
        targetType: SETTING_TARGET,
        targetId: key,
        metadata: {
          key,
          version,
          previous: effectiveValue(key, previous?.value ?? null) as AuditMetadataValue,
          previousWasDefault: previous === null,
          value: parsed.data as AuditMetadataValue,
        },
      });
      return { row, version };
    });
    await settingsCache.write(key, { value: row.value, updatedAt: row.updatedAt.toISOString() });
    await announce({ kind: 'setting', key });
    return {
      key,
      value: effectiveValue(key, row.value),
      defaultValue: structuredClone(definition.default),
      description: definition.description,
      category: definition.category,
      version,
      updatedAt: row.updatedAt,
    };
  }

  async function flagViews(rows: Parameters<typeof flagConfigOf>[0][]): Promise<FeatureFlagView[]> {
    const versions = await versionsOf(
      prisma,
      FLAG_TARGET,
      'FEATURE_FLAG_CHANGED',
      rows.map((row) => row.key),
    );
    return rows.map((row) => ({
      ...flagConfigOf(row),
      version: versions.get(row.key) ?? 0,
      updatedAt: row.updatedAt,
    }));
  }

  return {
    ready,

    async get(key) {
      return effectiveValue(key, (await settingsCache.get(key)).value);
    },

    async getStored(key) {
      const { value } = await settingsCache.get(key);
      if (value === null) return undefined;
      const definition = SETTINGS[key] as SettingDefinition<SettingValue<typeof key>>;
      const parsed = definition.schema.safeParse(value);
      // An invalid stored value counts as unset, like `get` falling back to the default.
      return parsed.success ? parsed.data : undefined;
    },

    set,

    async setByName(key, value, actor) {
      if (!isSettingKey(key)) {
        throw settingsInputError(SettingsErrorCode.SETTING_UNKNOWN, 'There is no such setting.', key);
      }
      return (await set(key, value, actor)) as SettingView;
    },

    async list() {
      const rows = await prisma.setting.findMany({
        where: { key: { in: SETTING_KEYS } },
        select: { key: true, value: true, updatedAt: true },
      });
      const byKey = new Map(rows.map((row) => [row.key, row]));
      const versions = await versionsOf(prisma, SETTING_TARGET, 'SETTING_CHANGED', SETTING_KEYS);
      return SETTING_KEYS.map((key): SettingView => {
        const definition = SETTINGS[key] as SettingDefinition<SettingValue<SettingKey>>;
        const row = byKey.get(key);
        return {
          key,
          value: effectiveValue(key, row?.value ?? null),
          defaultValue: structuredClone(definition.default),
          description: definition.description,
          category: definition.category,
          version: versions.get(key) ?? 0,
          updatedAt: row?.updatedAt ?? null,
        };
      });
    },

    async isEnabled(key, evaluation = {}) {
      if (!featureFlagKeySchema.safeParse(key).success) return false;
      return evaluateFlag(await flagCache.get(key), evaluation.userId);
    },

    async setFlag(key, input, actor) {
      const parsedKey = featureFlagKeySchema.safeParse(key);
      const parsed = featureFlagInputSchema.safeParse(input);
      if (!parsedKey.success || !parsed.success) {
        const issues = [
          ...(parsedKey.success ? [] : issuesOf(parsedKey.error).map((i) => ({ ...i, path: 'key' }))),
          ...(parsed.success ? [] : issuesOf(parsed.error)),
        ];
        throw settingsInputError(
          SettingsErrorCode.FEATURE_FLAG_INVALID,
          'The feature flag is not valid.',
          key,
          issues,
        );
      }
      const config = parsed.data;
      const { row, version } = await prisma.$transaction(async (tx) => {
        await lockKey(tx, 'feature-flags', key);
        const previous = await tx.featureFlag.findUnique({ where: { key } });
        const version =
          ((await versionsOf(tx, FLAG_TARGET, 'FEATURE_FLAG_CHANGED', [key])).get(key) ?? 0) + 1;
        const data = {
          enabled: config.enabled,
          description: config.description,
          rules: rulesOf(config) as Prisma.InputJsonValue,
        };
        const row = await tx.featureFlag.upsert({
          where: { key },
          create: { key, ...data },
          update: data,
        });
        const summary = (flag: FeatureFlagConfig): AuditMetadataValue => ({
          enabled: flag.enabled,
          rolloutPercent: flag.rolloutPercent,
          userIds: flag.userIds,
          description: flag.description,
        });
        await createAuditWriter<SettingsAuditAction>(tx).record({
          action: 'FEATURE_FLAG_CHANGED',
          outcome: 'SUCCESS',
          ...actor,
          targetType: FLAG_TARGET,
          targetId: key,
          metadata: {
            key,
            version,
            previous: previous ? summary(flagConfigOf(previous)) : null,
            value: summary(flagConfigOf(row)),
          },
        });
        return { row, version };
      });
      await flagCache.write(key, flagConfigOf(row));
      await announce({ kind: 'flag', key });
      return { ...flagConfigOf(row), version, updatedAt: row.updatedAt };
    },

    async listFlags() {
      return flagViews(await prisma.featureFlag.findMany({ orderBy: { key: 'asc' } }));
    },

    async close() {
      closed = true;
      await unsubscribe?.();
    },
  };
}

/**
 * The mail worker's `templateOverrides`: the stored `email.templates.<name>` copy, undefined when never stored.
 * Every service that runs a mail worker passes it, so an override applies whichever replica sends the mail.
 */
export function emailTemplateOverrides(
  store: Pick<SettingsStore, 'getStored'>,
): (template: string) => Promise<EmailTemplateOverride | undefined> {
  return async (template) => {
    const key = `email.templates.${template}`;
    // Every mail template has a setting (a settings test keeps the lists equal); a new one simply has none yet.
    return isSettingKey(key)
      ? store.getStored(key as `email.templates.${OverridableEmailTemplate}`)
      : undefined;
  };
}
