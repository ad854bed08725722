import type { ApolloServer } from '@apollo/server';
import type { PrismaClient } from '@gatehouse/db';
import type { Logger } from '@gatehouse/logger';
import { createSubgraphApolloServer, type SubgraphApolloServerOptions } from './apollo';
import type { AccessTokenVerifier } from './auth';
import { buildBaseContext, type BaseContext } from './context';
import type { SessionCheck } from './session-status';
import type { GraphQLEndpoint, RouteHandler } from './http-server';

/** What every subgraph's `createApp` is given: the same for `main`, the start script and tests. */
export interface SubgraphAppDependencies {
  prisma: PrismaClient;
  logger: Logger;
  /** `null` when no JWT public key is configured: only anonymous requests are possible. */
  verifier: AccessTokenVerifier | null;
  production: boolean;
  /**
   * Asks whether a token's session (`sid`) is still live, so a revoked session's access tokens stop working
   * within seconds (see `createSessionStatusChecker`). Unset: tokens are trusted until they expire.
   */
  sessionCheck?: SessionCheck;
}

export interface SubgraphApp<C extends BaseContext> extends GraphQLEndpoint<C> {
  server: ApolloServer<C>;
  /** Plain HTTP routes the subgraph serves besides GraphQL (e.g. identity's OAuth redirects). */
  routes?: RouteHandler;
  /** Builds the context for an already-authenticated request (tests using `executeOperation`). */
  contextFor(base: BaseContext): C;
}

export interface SubgraphAppOptions<C extends BaseContext> extends Pick<
  SubgraphApolloServerOptions,
  'typeDefs' | 'resolvers' | 'permissions'
> {
  deps: SubgraphAppDependencies;
  /**
   * Extends the authenticated base context with the subgraph's services. Called once per request, so
   * request-scoped state (DataLoaders) is created here and never shared between requests.
   */
  contextFor(base: BaseContext): C;
}

/**
 * The part of a subgraph's `createApp` that is the same everywhere: the guarded ApolloServer and a
 * per-request context that starts from the verified access token. No I/O happens until a request arrives.
 */
export function createSubgraphApp<C extends BaseContext>(options: SubgraphAppOptions<C>): SubgraphApp<C> {
  const { deps, contextFor } = options;
  const server = createSubgraphApolloServer<C>({
    typeDefs: options.typeDefs,
    resolvers: options.resolvers,
    permissions: options.permissions,
    logger: deps.logger,
    production: deps.production,
  });
  return {
    server,
    contextFor,
    context: async ({ req, requestId }) =>
      contextFor(
        await buildBaseContext({
          req,
          requestId,
          verifier: deps.verifier,
          logger: deps.logger,
          ...(deps.sessionCheck ? { sessionCheck: deps.sessionCheck } : {}),
        }),
      ),
  };
}
