import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, loadConfig, type Environment } from '@gatehouse/config';
import { createLogger, type Logger } from '@gatehouse/logger';
import { stopOnSignals } from '@gatehouse/service';
import { gatewayConcerns, playgroundEnabled, subgraphUrlsFrom } from './config';
import { startGateway } from './server';
import { SUPERGRAPH_FILE } from './subgraphs';

export interface RunningGateway {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql` (the playground is at `/playground`). */
  readonly url: string;
  /** Drains in-flight requests, stops Apollo and closes the subgraph connections. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Defaults to `process.env`. */
  readonly env?: Environment;
  /** Defaults to a logger named `gateway` at LOG_LEVEL. */
  readonly logger?: Logger;
}

/**
 * @apollo/gateway 2.x otherwise starts an OpenTelemetry exporter that reports to Apollo and runs cloud resource
 * detectors (AWS, GCP, Azure, Alibaba): a self-hosted identity platform must not phone home by default, and it
 * costs throughput (PERFORMANCE.md). The gateway reads the variable when an ApolloGateway is constructed, so
 * setting it before that is enough. An explicit value (e.g. `false`) from the operator is left alone.
 */
function disableApolloTelemetryUnlessConfigured(): void {
  process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';
}

/**
 * Starts the gateway from configuration: loads the environment (every problem reported at once, as a ConfigError),
 * reads the supergraph (SUPERGRAPH_PATH or the committed gateway/supergraph.graphql), and serves it.
 * The root start script calls this; run directly, the module also stops gracefully on SIGINT/SIGTERM.
 */
export async function start(options: StartOptions = {}): Promise<RunningGateway> {
  disableApolloTelemetryUnlessConfigured();
  const config = loadConfig(gatewayConcerns, options.env ?? process.env);
  const production = config.runtime.NODE_ENV === 'production';
  const logger = options.logger ?? createLogger({ name: 'gateway', level: config.runtime.LOG_LEVEL });

  const publishedKeys = config.wellKnown.JWT_PUBLIC_KEY ?? [];
  if (publishedKeys.length === 0) {
    logger.warn('JWT_PUBLIC_KEY is not set: /.well-known/jwks.json publishes no keys');
  }

  const supergraphPath = path.resolve(config.supergraph.SUPERGRAPH_PATH ?? SUPERGRAPH_FILE);
  let supergraphSdl: string;
  try {
    supergraphSdl = await readFile(supergraphPath, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the supergraph at ${supergraphPath}; run \`npm run compose\``, {
      cause: error,
    });
  }

  const service = await startGateway({
    supergraphSdl,
    subgraphUrls: subgraphUrlsFrom(config.subgraphs),
    logger,
    production,
    playground: playgroundEnabled(production, config.playground),
    host: config.http.GATEWAY_HOST,
    port: config.http.GATEWAY_PORT,
    wellKnown: { issuer: config.wellKnown.JWT_ISSUER, keys: publishedKeys },
  });
  return { url: `${service.url}/graphql`, stop: service.stop };
}

if (require.main === module) {
  start().then(
    (gateway) => stopOnSignals(gateway, createLogger({ name: 'gateway' })),
    (error: unknown) => {
      // ConfigError's message lists every wrong variable; print it rather than a stack.
      console.error(error instanceof ConfigError ? error.message : error);
      process.exit(1);
    },
  );
}
