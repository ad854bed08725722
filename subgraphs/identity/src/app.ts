import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
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
import type { IdentityServices } from './runtime';
import { typeDefs } from './schema';
import type { ClientInfo } from './services/client-info';
import { createUserService } from './services/user.service';

export interface AppDependencies extends SubgraphAppDependencies {
  /** Built once per process by `createIdentityServices`. */
  identity: IdentityServices;
}
export type App = SubgraphApp<Context>;

/**
 * The caller as the gateway reports it. Subgraphs are reachable only from the gateway, which sets
 * X-Forwarded-For; a direct caller is identified by its socket address. Used for sessions, audit and mail,
 * never for authorization.
 */
export function clientFrom(req: IncomingMessage, requestId: string): ClientInfo {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  const candidate = first || req.socket.remoteAddress || null;
  const ip = candidate && isIP(candidate.replace(/^::ffff:/, '')) ? candidate.replace(/^::ffff:/, '') : null;
  const userAgent = req.headers['user-agent'] ?? null;
  return { ip, userAgent, requestId };
}

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

  const app = createSubgraphApp({
    typeDefs,
    resolvers,
    permissions,
    deps,
    contextFor: (base) => contextFor(base),
  });
  return {
    ...app,
    context: async (input) => ({
      ...(await app.context(input)),
      client: clientFrom(input.req, input.requestId),
    }),
  };
}
