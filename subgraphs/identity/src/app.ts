import {
  createSubgraphApp,
  type BaseContext,
  type SubgraphApp,
  type SubgraphAppDependencies,
} from '@gatehouse/service';
import type { Context } from './context';
import { createLoaders, type Repositories } from './loaders';
import { permissions } from './permissions';
import { createUserRepository } from './repositories/user.repository';
import { resolvers } from './resolvers';
import { typeDefs } from './schema';
import { createUserService } from './services/user.service';

export type AppDependencies = SubgraphAppDependencies;
export type App = SubgraphApp<Context>;

/** Wires repositories and services into the subgraph's ApolloServer. No I/O happens until a request arrives. */
export function createApp(deps: AppDependencies): App {
  const repositories: Repositories = { users: createUserRepository(deps.prisma) };

  function contextFor(base: BaseContext): Context {
    const loaders = createLoaders(repositories);
    return { ...base, loaders, users: createUserService(base.viewer, loaders) };
  }

  return createSubgraphApp({ typeDefs, resolvers, permissions, deps, contextFor });
}
