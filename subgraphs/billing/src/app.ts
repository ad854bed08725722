import {
  createSubgraphApp,
  type BaseContext,
  type SubgraphApp,
  type SubgraphAppDependencies,
} from '@gatehouse/service';
import type { Context } from './context';
import { createLoaders, type Repositories } from './loaders';
import { permissions } from './permissions';
import { createPlanRepository } from './repositories/plan.repository';
import { createSubscriptionRepository } from './repositories/subscription.repository';
import { resolvers } from './resolvers';
import { typeDefs } from './schema';
import { createPlanService } from './services/plan.service';
import { createSubscriptionService } from './services/subscription.service';

export type AppDependencies = SubgraphAppDependencies;
export type App = SubgraphApp<Context>;

/** Wires repositories and services into the subgraph's ApolloServer. No I/O happens until a request arrives. */
export function createApp(deps: AppDependencies): App {
  const repositories: Repositories = {
    plans: createPlanRepository(deps.prisma),
    subscriptions: createSubscriptionRepository(deps.prisma),
  };

  function contextFor(base: BaseContext): Context {
    const loaders = createLoaders(repositories);
    return {
      ...base,
      loaders,
      plans: createPlanService(loaders, repositories.plans),
      subscriptions: createSubscriptionService(loaders),
    };
  }

  return createSubgraphApp({ typeDefs, resolvers, permissions, deps, contextFor });
}
