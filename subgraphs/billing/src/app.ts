import type { KeyValueStore } from '@gatehouse/kv';
import {
  clientInfoFrom,
  createEffectivePermissions,
  createSubgraphApp,
  type BaseContext,
  type RouteHandler,
  type SubgraphApp,
  type SubgraphAppDependencies,
} from '@gatehouse/service';
import type { Context } from './context';
import { createLoaders, type Repositories } from './loaders';
import { permissions } from './permissions';
import { createPlanRepository, createPlanService } from './plans';
import { createSubscriptionRepository, createSubscriptionService } from './subscriptions';
import { resolvers } from './resolvers';
import { typeDefs } from './schema';
import type { BillingServices } from './billing-facade';

export interface AppDependencies extends SubgraphAppDependencies {
  /** Built once per process by `createBillingServices` (runtime.ts). */
  billing: BillingServices;
  /** Plain HTTP routes: `POST /webhooks/stripe`, `POST /billing/usage`. */
  routes?: RouteHandler[];
  /** The store shared by every subgraph: live permissions (a removed `billing:manage` stops working at once). */
  kv?: KeyValueStore;
}
export type App = SubgraphApp<Context>;

/** Wires repositories and services into the subgraph's ApolloServer. No I/O happens until a request arrives. */
export function createApp(deps: AppDependencies): App {
  const repositories: Repositories = {
    plans: createPlanRepository(deps.prisma),
    subscriptions: createSubscriptionRepository(deps.prisma),
  };
  const effectivePermissions = deps.kv
    ? createEffectivePermissions({
        prisma: deps.prisma,
        kv: deps.kv,
        onCacheError: (err) => deps.logger.warn({ err }, 'effective permission cache unavailable'),
      })
    : undefined;

  function contextFor(base: BaseContext): Context {
    const loaders = createLoaders(repositories);
    return {
      ...base,
      billing: {
        ...deps.billing,
        plans: createPlanService(loaders, repositories.plans),
        subscriptions: createSubscriptionService(loaders),
      },
      // Replaced by the request's client info in `context` below (the kit builds the base without `req`).
      client: { ip: null, userAgent: null, requestId: base.requestId },
      ...(effectivePermissions ? { effectivePermissions } : {}),
    };
  }

  const app = createSubgraphApp({ typeDefs, resolvers, permissions, deps, contextFor });
  const routes = deps.routes ?? [];
  return {
    ...app,
    context: async (input) => ({
      ...(await app.context(input)),
      client: clientInfoFrom(input.req, input.requestId),
    }),
    ...(routes.length > 0
      ? {
          routes: async (req, res, requestId) => {
            for (const route of routes) if (await route(req, res, requestId)) return true;
            return false;
          },
        }
      : {}),
  };
}
