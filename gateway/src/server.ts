import type { Logger } from '@gatehouse/logger';
import { startHttpService, type HttpService } from '@gatehouse/service';
import { createGateway, gatewayContext, subgraphReadinessChecks, type SubgraphUrls } from './gateway';
import { createPlaygroundHandler } from './playground';

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
}

/**
 * Starts the gateway's HTTP service: `/graphql` (federated), `/playground` (when enabled), `/health/live` and
 * `/health/ready` (ready when every subgraph is). Resolves once the supergraph is loaded and the port is bound.
 */
export async function startGateway(options: StartGatewayOptions): Promise<HttpService> {
  const { logger } = options;
  const { server, close } = createGateway(options);
  const playground = options.playground ? createPlaygroundHandler() : undefined;

  let service: HttpService;
  try {
    service = await startHttpService({
      name: 'gateway',
      host: options.host,
      port: options.port,
      logger,
      graphql: { server, context: gatewayContext },
      readinessChecks: subgraphReadinessChecks(options.subgraphUrls),
      ...(playground ? { routes: (req, res) => playground(req, res) } : {}),
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
