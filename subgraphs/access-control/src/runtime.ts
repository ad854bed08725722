import { createAuditWriter, startAuditEventRelay, type AuditWriter } from '@gatehouse/audit';
import type { EventBus } from '@gatehouse/events';
import { MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import {
  createEffectivePermissions,
  type EffectivePermissions,
  type SubgraphAppDependencies,
  type SubgraphRuntime,
} from '@gatehouse/service';
import { createSettingsStore, type SettingsStore, type SettingsStoreOptions } from '@gatehouse/settings';
import {
  createAuditLogRepository,
  createAuditQueryService,
  type AuditLogRepository,
  type AuditQueryService,
} from './audit';
import type { AccessControlConfig } from './config';
import type { Repositories } from './loaders';
import {
  createApiUsageRepository,
  createMetricsRepository,
  createMetricsService,
  startApiUsageConsumer,
  type MetricsService,
} from './metrics';
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
  /** The audit_logs reads, shared by `auditQueries` and the export route. */
  auditLogs: AuditLogRepository;
  auditQueries: AuditQueryService;
  /** Records each audit export (the export is itself audited). */
  auditWriter: AuditWriter;
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

  const auditLogs = createAuditLogRepository(prisma);
  const auditQueries = createAuditQueryService(auditLogs);
  const metrics = createMetricsService({
    repository: createMetricsRepository(prisma),
    ...(options.now ? { now: options.now } : {}),
  });
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
  return {
    repositories,
    effectivePermissions,
    roleAdmin,
    auditLogs,
    auditQueries,
    auditWriter: createAuditWriter(prisma),
    metrics,
    settingsAdmin,
    rateLimits,
  };
}

export interface StartAccessControlRuntimeOptions extends Pick<
  SubgraphRuntime,
  'prisma' | 'logger' | 'kv' | 'onStop'
> {
  config: AccessControlConfig;
  /** The process's bus (`runtime.kit.events`): Redis with REDIS_URL, else in-process, shared with the services. */
  events: EventBus;
}

/**
 * Starts what the process runs besides the GraphQL endpoint, each registering its shutdown with `onStop` as it
 * starts: the audit relay and the API usage consumer, both on the process's bus.
 */
export async function startAccessControlRuntime(options: StartAccessControlRuntimeOptions): Promise<void> {
  const { config, logger, onStop, events } = options;
  const { database } = config;
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
    repository: createApiUsageRepository(options.prisma),
    events,
    kv: options.kv,
    logger: logger.child({ module: 'api-usage' }),
  });
  onStop(stopUsage);
}
