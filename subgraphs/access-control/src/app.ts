import {
  createSubgraphApp,
  type BaseContext,
  type SubgraphApp,
  type SubgraphAppDependencies,
} from '@gatehouse/service';
import type { Context } from './context';
import { createLoaders, type Repositories } from './loaders';
import { permissions } from './permissions';
import { createPermissionRepository } from './repositories/permission.repository';
import { createRoleRepository } from './repositories/role.repository';
import { resolvers } from './resolvers';
import { typeDefs } from './schema';
import { createRoleService } from './services/role.service';

export type AppDependencies = SubgraphAppDependencies;
export type App = SubgraphApp<Context>;

/** Wires repositories and services into the subgraph's ApolloServer. No I/O happens until a request arrives. */
export function createApp(deps: AppDependencies): App {
  const repositories: Repositories = {
    roles: createRoleRepository(deps.prisma),
    permissions: createPermissionRepository(deps.prisma),
  };

  function contextFor(base: BaseContext): Context {
    const loaders = createLoaders(repositories);
    return { ...base, loaders, roles: createRoleService(loaders, repositories.roles) };
  }

  return createSubgraphApp({ typeDefs, resolvers, permissions, deps, contextFor });
}
