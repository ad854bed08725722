import { startAuditEventRelay } from '@gatehouse/audit';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import {
  createEffectivePermissions,
  type EffectivePermissions,
  type SubgraphAppDependencies,
  type SubgraphRuntime,
} from '@gatehouse/service';
import { createSettingsStore, type SettingsStore, type SettingsStoreOptions } from '@gatehouse/settings';
import { createAuditQueryService, type AuditQueryService } from './audit';
import type { AccessControlConfig } from './config';
import type { Repositories } from './loaders';
import { createMetricsService, startApiUsageConsumer, type MetricsService } from './metrics';
import {
  createPermissionRepository,
  createRoleAdminRepository,
  createRoleAdminService,
  createRoleRepository,
  type RoleAdminService,
} from './roles';
import {
  createRateLimitPublisher,
  createSettingsAdminService,
  type RateLimitPublisher,
  type SettingsAdminService,
} from './settings';

/** Composition of the access-control subgraph: repositories and services, and the process's background work. */

export interface AccessControlServicesOptions extends Pick<SubgraphAppDependencies, 'prisma' | 'logger'> {
  /**
   * The store every subgraph shares (`startSubgraph` passes its runtime's): effective permissions are cached there
   * and invalidated on every role change, so other subgraphs' `hasPermission` rules see changes at once. Without
   * it (tools, tests), an in-process store: coherent within this app only.
   */
  kv?: KeyValueStore;
  /** Overrides the effective-permission reader built from `prisma` and `kv` (tests). */
  effectivePermissions?: EffectivePermissions;
  /**
   * The event bus every replica shares: a setting or flag changed here makes the other processes drop their
   * cached copy at once. Without it, they see the change when their local entry expires (30 seconds).
   */
  events?: SettingsStoreOptions['events'];
  /** Overrides the settings store built from `prisma`, `kv` and `events` (tests, or one store per process). */
  settings?: SettingsStore;
  /** The current instant for the admin metrics (tests pin it). */
  now?: () => Date;
}

/** What the per-request context is built from; no I/O happens until a request arrives. */
export interface AccessControlServices {
  /** Handed to each request's loaders and role reads. */
  repositories: Repositories;
  /** Always the live reader here: role management must see its own changes at once. */
  effectivePermissions: EffectivePermissions;
  roleAdmin: RoleAdminService;
  auditQueries: AuditQueryService;
  metrics: MetricsService;
  settingsAdmin: SettingsAdminService;
  /** Publishes the `rateLimits` setting for the gateway (its store is the one `settingsAdmin` writes through). */
  rateLimits: RateLimitPublisher;
}

/** Builds the repositories and the services of the access-control subgraph. */
export function createAccessControlServices(options: AccessControlServicesOptions): AccessControlServices {
  const { prisma, logger } = options;
  const repositories: Repositories = {
    roles: createRoleRepository(prisma),
    permissions: createPermissionRepository(prisma),
  };
  const kv = options.kv ?? new MemoryKeyValueStore();
  const effectivePermissions =
    options.effectivePermissions ??
    createEffectivePermissions({
      prisma,
      kv,
      onCacheError: (err) => logger.warn({ err }, 'effective permission cache unavailable'),
    });
  const roleAdmin = createRoleAdminService({
    repository: createRoleAdminRepository(prisma),
    effectivePermissions,
    logger,
  });

  const auditQueries = createAuditQueryService(prisma);
  const metrics = createMetricsService({ prisma, ...(options.now ? { now: options.now } : {}) });
  // The gateway's rate limits follow the `rateLimits` setting through the shared store.
  const rateLimits = createRateLimitPublisher({
    store:
      options.settings ??
      createSettingsStore({
        prisma,
        kv,
        ...(options.events ? { events: options.events } : {}),
        onCacheError: (err, { key }) => logger.warn({ err, key }, 'settings cache unavailable'),
      }),
    kv,
    ...(options.events ? { events: options.events } : {}),
    logger,
  });
  const settingsAdmin = createSettingsAdminService(rateLimits.store);
  return { repositories, effectivePermissions, roleAdmin, auditQueries, metrics, settingsAdmin, rateLimits };
}

export interface StartAccessControlRuntimeOptions extends Pick<
  SubgraphRuntime,
  'prisma' | 'logger' | 'kv' | 'onStop'
> {
  config: AccessControlConfig;
  /** The bus shared with the other services of this process; default: from REDIS_URL (in-process without it). */
  events?: EventBus;
}

/**
 * Starts what the process runs besides the GraphQL endpoint, each registering its shutdown with `onStop` as it
 * starts: the event bus, the audit relay and the API usage consumer. Returns the bus for `createApp`.
 */
export async function startAccessControlRuntime(
  options: StartAccessControlRuntimeOptions,
): Promise<{ events: EventBus }> {
  const { config, logger, onStop } = options;
  const { redis, database } = config;
  // The bus identity listens on (Redis with REDIS_URL): a setting changed through the admin API makes every
  // process drop its cached copy at once (SETTINGS_CHANGED_TOPIC), instead of after the cache TTL.
  let events = options.events;
  if (!events) {
    const own = createEventBus({
      ...(redis.REDIS_URL ? { redisUrl: redis.REDIS_URL } : {}),
      logger,
    });
    onStop(() => own.close());
    events = own;
  }
  // Every committed audit row, whichever service wrote it, onto the bus: the gateway's live `auditEvents`.
  if (database.DATABASE_URL) {
    const bus = events;
    const relay = startAuditEventRelay({
      connection: { connectionString: database.DATABASE_URL },
      publish: (topic, notice) => bus.publish(topic, notice),
      logger: logger.child({ module: 'audit-relay' }),
    });
    onStop(() => relay.close());
  }
  // The gateway's request counts (API usage by operation) into api_usage_daily, for the admin metrics.
  const stopUsage = await startApiUsageConsumer({
    prisma: options.prisma,
    events,
    kv: options.kv,
    logger: logger.child({ module: 'api-usage' }),
  });
  onStop(stopUsage);
  return { events };
}
