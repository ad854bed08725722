import { MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import {
  createEffectivePermissions,
  createSubgraphApp,
  type BaseContext,
  type EffectivePermissions,
  type SubgraphApp,
  type SubgraphAppDependencies,
} from '@gatehouse/service';
import { createAuditWriter } from '@gatehouse/audit';
import { createSettingsStore, type SettingsStore, type SettingsStoreOptions } from '@gatehouse/settings';
import { authorizeAuditReaders, createAuditExportRoute, createAuditQueryService } from './audit';
import type { Context } from './context';
import { createLoaders, type Repositories } from './loaders';
import { createMetricsService } from './metrics';
import { permissions } from './permissions';
import { createPermissionRepository } from './repositories/permission.repository';
import { createRoleAdminRepository } from './repositories/role-admin.repository';
import { createRoleRepository } from './repositories/role.repository';
import { resolvers } from './resolvers';
import { typeDefs } from './schema';
import { createRoleAdminService } from './services/role-admin.service';
import { createRoleService } from './services/role.service';
import { createSettingsAdminService } from './services/settings-admin.service';
import { createRateLimitPublisher } from './settings/rate-limit-publisher';

export interface AppDependencies extends SubgraphAppDependencies {
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
export type App = SubgraphApp<Context> & {
  /** Publishes the stored `rateLimits` for the gateway (main() at start; changes publish themselves). */
  publishRateLimits(): Promise<void>;
};

/** Wires repositories and services into the subgraph's ApolloServer. No I/O happens until a request arrives. */
export function createApp(deps: AppDependencies): App {
  const repositories: Repositories = {
    roles: createRoleRepository(deps.prisma),
    permissions: createPermissionRepository(deps.prisma),
  };
  const kv = deps.kv ?? new MemoryKeyValueStore();
  const effectivePermissions =
    deps.effectivePermissions ??
    createEffectivePermissions({
      prisma: deps.prisma,
      kv,
      onCacheError: (err) => deps.logger.warn({ err }, 'effective permission cache unavailable'),
    });
  const roleAdmin = createRoleAdminService({
    repository: createRoleAdminRepository(deps.prisma),
    effectivePermissions,
    logger: deps.logger,
  });

  const auditQueries = createAuditQueryService(deps.prisma);
  const metrics = createMetricsService({ prisma: deps.prisma, ...(deps.now ? { now: deps.now } : {}) });
  // The gateway's rate limits follow the `rateLimits` setting through the shared store.
  const rateLimits = createRateLimitPublisher({
    store:
      deps.settings ??
      createSettingsStore({
        prisma: deps.prisma,
        kv,
        ...(deps.events ? { events: deps.events } : {}),
        onCacheError: (err, { key }) => deps.logger.warn({ err, key }, 'settings cache unavailable'),
      }),
    kv,
    ...(deps.events ? { events: deps.events } : {}),
    logger: deps.logger,
  });
  const settingsAdmin = createSettingsAdminService(rateLimits.store);

  function contextFor(base: BaseContext): Context {
    const loaders = createLoaders(repositories);
    return {
      ...base,
      loaders,
      effectivePermissions,
      roles: createRoleService(loaders, repositories),
      roleAdmin,
      auditQueries,
      settingsAdmin,
      metrics,
    };
  }

  const app = createSubgraphApp({ typeDefs, resolvers, permissions, deps, contextFor });
  return {
    ...app,
    // GET /admin/audit-logs/export?format=csv|json (through the gateway): streamed in bounded memory.
    routes: createAuditExportRoute({
      prisma: deps.prisma,
      logger: deps.logger.child({ module: 'audit-export' }),
      audit: createAuditWriter(deps.prisma),
      authorize: authorizeAuditReaders({
        verifier: deps.verifier,
        ...(deps.sessionCheck ? { sessionCheck: deps.sessionCheck } : {}),
        effectivePermissions,
      }),
    }),
    publishRateLimits: rateLimits.publish,
  };
}
