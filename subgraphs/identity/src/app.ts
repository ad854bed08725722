import type { ApolloServer } from '@apollo/server';
import type { PrismaClient } from '@gatehouse/db';
import type { Logger } from '@gatehouse/logger';
import {
  buildBaseContext,
  createSubgraphApolloServer,
  type AccessTokenVerifier,
  type BaseContext,
  type GraphQLEndpoint,
} from '@gatehouse/service';
import type { Context } from './context';
import { createLoaders, type Repositories } from './loaders';
import { permissions } from './permissions';
import { createUserRepository } from './repositories/user.repository';
import { resolvers } from './resolvers';
import { typeDefs } from './schema';
import { createUserService } from './services/user.service';

export interface AppDependencies {
  prisma: PrismaClient;
  logger: Logger;
  /** `null` when no JWT public key is configured: only anonymous requests are possible. */
  verifier: AccessTokenVerifier | null;
  production: boolean;
}

export interface App extends GraphQLEndpoint<Context> {
  server: ApolloServer<Context>;
  /** Builds the context for an already-authenticated request (tests using `executeOperation`). */
  contextFor(base: BaseContext): Context;
}

/** Wires repositories, services and the ApolloServer. No I/O happens until a request arrives. */
export function createApp(deps: AppDependencies): App {
  const repositories: Repositories = { users: createUserRepository(deps.prisma) };
  const server = createSubgraphApolloServer<Context>({
    typeDefs,
    resolvers,
    permissions,
    logger: deps.logger,
    production: deps.production,
  });

  function contextFor(base: BaseContext): Context {
    const loaders = createLoaders(repositories);
    return { ...base, loaders, users: createUserService(base.viewer, loaders) };
  }

  return {
    server,
    contextFor,
    context: async ({ req, requestId }) =>
      contextFor(await buildBaseContext({ req, requestId, verifier: deps.verifier, logger: deps.logger })),
  };
}
