import {
  createSubgraphApp,
  type BaseContext,
  type RouteHandler,
  type SubgraphApp,
  type SubgraphAppDependencies,
} from '@gatehouse/service';
import type { Context } from './context';
import { createLoaders, type Repositories } from './loaders';
import { permissions } from './permissions';
import { createUserRepository } from './repositories/user.repository';
import { resolvers } from './resolvers';
import type { IdentityServices } from './runtime';
import { typeDefs } from './schema';
import { clientFrom, type ClientInfo } from './services/client-info';
import { createOAuthRoutes } from './oauth';
import { createUserService } from './services/user.service';

export interface AppDependencies extends SubgraphAppDependencies {
  /** Built once per process by `createIdentityServices`. */
  identity: IdentityServices;
}
export type App = SubgraphApp<Context>;

/** Wires repositories and services into the subgraph's ApolloServer. No I/O happens until a request arrives. */
export function createApp(deps: AppDependencies): App {
  const repositories: Repositories = { users: createUserRepository(deps.prisma) };

  function contextFor(base: BaseContext, client?: ClientInfo): Context {
    const loaders = createLoaders(repositories);
    return {
      ...base,
      loaders,
      users: createUserService(base.viewer, loaders),
      identity: deps.identity,
      client: client ?? { ip: null, userAgent: null, requestId: base.requestId },
      authenticatedUserIds: new Set(),
    };
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
    context: async (input) => ({
      ...(await app.context(input)),
      client: clientFrom(input.req, input.requestId),
    }),
  };
}
