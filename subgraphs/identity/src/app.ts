import {
  createSubgraphApp,
  type BaseContext,
  type RouteHandler,
  type SubgraphApp,
  type ServiceMetrics,
  type SubgraphAppDependencies,
  viewerPermissions,
} from '@gatehouse/service';
import type { Context } from './context';
import { createLoaders, type Repositories } from './loaders';
import { permissions } from './permissions';
import { createUserRepository, type SqlPool } from './users';
import { resolvers } from './resolvers';
import type { IdentityServices } from './runtime';
import { typeDefs } from './schema';
import { clientFrom, type ClientInfo } from './client-info';
import { COMPLETION_COOKIE, createOAuthRoutes, readCookie } from './oauth';
import { createUserService } from './users';

export interface AppDependencies extends SubgraphAppDependencies {
  /** The pg pool under `prisma` (the service kit passes it): hot reads run as plain SQL on it. */
  pool?: SqlPool;
  /** Built once per process by `createIdentityServices`. */
  identity: IdentityServices;
  /** Registrations and sign-ins are counted here (the service's `/metrics`). */
  metrics?: ServiceMetrics;
}
export type App = SubgraphApp<Context>;

/** Wires repositories and services into the subgraph's ApolloServer. No I/O happens until a request arrives. */
export function createApp(deps: AppDependencies): App {
  // Some tests serve the schema without the identity flows (reads of `User` only); the admin reads need them.
  const identity = deps.identity as IdentityServices | undefined;
  const repositories: Repositories = {
    users: createUserRepository(deps.prisma, deps.pool),
    ...(identity ? { admin: identity.admin } : {}),
  };

  function contextFor(base: BaseContext, client?: ClientInfo): Context {
    const loaders = createLoaders(repositories);
    const context: Context = {
      ...base,
      loaders,
      users: createUserService(base.viewer, loaders, async () =>
        (await viewerPermissions(context)).has('users:read'),
      ),
      identity: deps.identity,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      ...(identity ? { effectivePermissions: identity.effectivePermissions } : {}),
      client: {
        ...(client ?? { ip: null, userAgent: null, requestId: base.requestId }),
        // Every audit row of an impersonated request names the administrator (see auditClientFields).
        impersonatorUserId: base.viewer?.impersonatorUserId ?? null,
      },
      oauthBrowserBinding: null,
      authenticatedUserIds: new Set(),
    };
    return context;
  }

  let oauthRoutes: RouteHandler | undefined;
  const app = createSubgraphApp({
    typeDefs,
    resolvers,
    permissions,
    deps,
    contextFor: (base) => contextFor(base),
  });
  return {
    ...app,
    // The OAuth redirects browsers follow (start, provider callback), reached through the gateway's /auth/oauth/.
    // Built on the first request, like everything else here.
    routes: (req, res, requestId) =>
      (oauthRoutes ??= createOAuthRoutes(deps.identity.oauth, {
        logger: deps.logger.child({ module: 'oauth-routes' }),
        clientFrom,
      }))(req, res, requestId),
    context: async (input) => {
      const context = await app.context(input);
      // Set on the same object (not a copy): per-request memos such as the viewer's permissions key on it.
      context.client = {
        ...clientFrom(input.req, input.requestId),
        impersonatorUserId: context.viewer?.impersonatorUserId ?? null,
      };
      context.oauthBrowserBinding = readCookie(input.req, COMPLETION_COOKIE);
      return context;
    },
  };
}
