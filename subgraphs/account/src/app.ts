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
import { createFileRoutes, isFilesystemStorage } from '@gatehouse/storage';
import { createAvatarRoutes } from './avatar';
import type { Context } from './context';
import { permissions } from './permissions';
import { createUnsubscribeRoutes } from './preferences';
import { resolvers } from './resolvers';
import type { AccountServices } from './runtime';
import { typeDefs } from './schema';

export interface AppDependencies extends SubgraphAppDependencies {
  /** Built once per process by `createAccountServices`. */
  account: AccountServices;
  /**
   * The store shared by every subgraph: permission rules then read live permissions (a removed `users:read` stops
   * working at once). Without it (tools, some tests), they read the access token's `permissions` claim.
   */
  kv?: KeyValueStore;
}
export type App = SubgraphApp<Context>;

/**
 * Wires the account services into the subgraph's ApolloServer, plus its plain HTTP routes (reached through the
 * gateway): `PUT|POST|DELETE /account/avatar`, `GET|POST /unsubscribe`, and `GET /files/*` for the filesystem
 * storage driver. No I/O happens until a request arrives.
 */
export function createApp(deps: AppDependencies): App {
  const { account } = deps;
  const effectivePermissions = deps.kv
    ? createEffectivePermissions({
        prisma: deps.prisma,
        kv: deps.kv,
        onCacheError: (err) => deps.logger.warn({ err }, 'effective permission cache unavailable'),
      })
    : undefined;

  function contextFor(base: BaseContext): Context {
    return {
      ...base,
      account,
      profileLoader: account.profiles.createLoader(),
      client: { ip: null, userAgent: null, requestId: base.requestId },
      ...(effectivePermissions ? { effectivePermissions } : {}),
    };
  }

  const routeHandlers: RouteHandler[] = [
    createAvatarRoutes({
      avatars: account.avatars,
      verifier: deps.verifier,
      ...(deps.sessionCheck ? { sessionCheck: deps.sessionCheck } : {}),
      logger: deps.logger.child({ module: 'avatar-routes' }),
    }),
    createUnsubscribeRoutes({
      preferences: account.preferenceRepository,
      tokens: account.unsubscribeTokens,
      logger: deps.logger.child({ module: 'unsubscribe' }),
      onChange: (userId) => account.profiles.invalidate(userId),
    }),
  ];
  if (isFilesystemStorage(account.storage)) routeHandlers.push(createFileRoutes(account.storage));

  const app = createSubgraphApp({ typeDefs, resolvers, permissions, deps, contextFor });
  return {
    ...app,
    context: async (input) => ({
      ...(await app.context(input)),
      client: clientInfoFrom(input.req, input.requestId),
    }),
    routes: async (req, res, requestId) => {
      for (const route of routeHandlers) if (await route(req, res, requestId)) return true;
      return false;
    },
  };
}
