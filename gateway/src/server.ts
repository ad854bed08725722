import type { Logger } from '@gatehouse/logger';
import { startHttpService, type HttpService } from '@gatehouse/service';
import { createGateway, gatewayContext, subgraphReadinessChecks, type SubgraphUrls } from './gateway';
import { createPlaygroundHandler } from './playground';
import { createRestProxy } from './rest-proxy';
import { createWellKnownHandler, type WellKnownOptions } from './well-known';

export interface StartGatewayOptions {
  readonly supergraphSdl: string;
  readonly subgraphUrls: SubgraphUrls;
  readonly logger: Logger;
  readonly production: boolean;
  /** Serve the offline GraphiQL at /playground. */
  readonly playground: boolean;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Serve `/.well-known/jwks.json` and `/.well-known/openid-configuration` for these keys. */
  readonly wellKnown?: WellKnownOptions;
}

/**
 * Starts the gateway's HTTP service: `/graphql` (federated), `/playground` (when enabled), `/.well-known/*`
 * (when `wellKnown` is given), `/health/live` and `/health/ready` (ready when every subgraph is). Resolves once
 * the supergraph is loaded and the port is bound.
 */
export async function startGateway(options: StartGatewayOptions): Promise<HttpService> {
  const { logger } = options;
  const { server, close } = createGateway(options);
  const playground = options.playground ? createPlaygroundHandler() : undefined;
  const wellKnown = options.wellKnown ? createWellKnownHandler(options.wellKnown) : undefined;
  // Browsers reach the subgraphs' plain HTTP routes through the gateway, the one public door.
  const identity = new URL(options.subgraphUrls.identity).origin;
  const account = new URL(options.subgraphUrls.account).origin;
  const rest = createRestProxy({
    logger,
    routes: [
      { path: '/auth/oauth/', target: identity, methods: ['GET', 'HEAD'] },
      {
        path: '/account/avatar',
        target: account,
        methods: ['PUT', 'POST', 'DELETE'],
        forwardAuthorization: true,
        // The avatar limit (5 MiB, enforced again by the account subgraph).
        maxBodyBytes: 5 * 1024 * 1024,
      },
      { path: '/unsubscribe', target: account, methods: ['GET', 'HEAD', 'POST'] },
      // Streamed audit export for administrators (the route checks the token and `audit:read` itself).
      {
        path: '/admin/audit-logs/export',
        target: new URL(options.subgraphUrls['access-control']).origin,
        methods: ['GET'],
        forwardAuthorization: true,
      },
      // Stored files of the filesystem storage driver (avatars, signed export downloads).
      { path: '/files/', target: account, methods: ['GET', 'HEAD'] },
    ],
  });
  const routes = [wellKnown, playground, rest].filter((route) => route !== undefined);

  let service: HttpService;
  try {
    service = await startHttpService({
      name: 'gateway',
      host: options.host,
      port: options.port,
      logger,
      graphql: { server, context: gatewayContext },
      readinessChecks: subgraphReadinessChecks(options.subgraphUrls),
      ...(routes.length > 0
        ? {
            routes: async (req, res, requestId) => {
              for (const route of routes) if (await route(req, res, requestId)) return true;
              return false;
            },
          }
        : {}),
    });
  } catch (error) {
    close();
    throw error;
  }
  if (playground) logger.info({ url: `${service.url}/playground` }, 'GraphQL playground enabled');

  let stopped: Promise<void> | undefined;
  return {
    url: service.url,
    port: service.port,
    stop: () =>
      (stopped ??= service.stop().finally(() => {
        close();
      })),
  };
}
