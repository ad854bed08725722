import {
  createSubgraphApp,
  type BaseContext,
  type SubgraphApp,
  type SubgraphAppDependencies,
} from '@gatehouse/service';
import { authorizeAuditReaders, createAuditExportRoute } from './audit';
import type { Context } from './context';
import { createLoaders } from './loaders';
import { permissions } from './permissions';
import { resolvers } from './resolvers';
import { createRoleService } from './roles';
import { createAccessControlServices, type AccessControlServicesOptions } from './runtime';
import { typeDefs } from './schema';

/** `kv`, `events`, `settings`, `effectivePermissions` and `now` are described on {@link AccessControlServicesOptions}. */
export interface AppDependencies extends SubgraphAppDependencies, AccessControlServicesOptions {}
export type App = SubgraphApp<Context> & {
  /** Publishes the stored `rateLimits` for the gateway (main() at start; changes publish themselves). */
  publishRateLimits(): Promise<void>;
};

/**
 * Wires the services (built by `createAccessControlServices`) into the subgraph's ApolloServer, plus the audit
 * export route. No I/O happens until a request arrives.
 */
export function createApp(deps: AppDependencies): App {
  const services = createAccessControlServices(deps);
  const { repositories, effectivePermissions } = services;

  function contextFor(base: BaseContext): Context {
    const loaders = createLoaders(repositories);
    return {
      ...base,
      loaders,
      effectivePermissions,
      roles: createRoleService(loaders, repositories),
      roleAdmin: services.roleAdmin,
      auditQueries: services.auditQueries,
      settingsAdmin: services.settingsAdmin,
      metrics: services.metrics,
    };
  }

  const app = createSubgraphApp({ typeDefs, resolvers, permissions, deps, contextFor });
  return {
    ...app,
    // GET /admin/audit-logs/export?format=csv|json (through the gateway): streamed in bounded memory.
    routes: createAuditExportRoute({
      repository: services.auditLogs,
      logger: deps.logger.child({ module: 'audit-export' }),
      audit: services.auditWriter,
      authorize: authorizeAuditReaders({
        verifier: deps.verifier,
        ...(deps.sessionCheck ? { sessionCheck: deps.sessionCheck } : {}),
        effectivePermissions,
      }),
    }),
    publishRateLimits: services.rateLimits.publish,
  };
}
