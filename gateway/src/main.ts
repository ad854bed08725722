import cluster from 'node:cluster';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, loadConfig, type Environment } from '@gatehouse/config';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { createKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createLogger, type Logger } from '@gatehouse/logger';
import {
  createServiceMetrics,
  metricsSettingsFromEnv,
  resolveSubgraphSecret,
  stopOnSignals,
} from '@gatehouse/service';
import { runGatewayCluster } from './cluster';
import { gatewayConcerns, playgroundEnabled, subgraphUrlsFrom, workersConcern } from './config';
import { createGatewayProtection, startRateLimitSettingsReader } from './protection';
import { startGateway } from './server';
import { SUPERGRAPH_FILE } from './subgraphs';
import { createUsageRecorder } from './usage-recorder';

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
  /**
   * The key/value store identity records session revocations in, also holding rate-limit counters. Defaults to
   * Redis at REDIS_URL (shared by every replica), else an in-process store (then pass the one the embedded
   * subgraphs share, or revocations are only enforced by the subgraphs).
   */
  readonly kv?: KeyValueStore;
  /**
   * The bus the services publish on, relayed to WebSocket subscribers (docs/realtime.md). Defaults to Redis
   * pub/sub at REDIS_URL, else an in-process bus (then pass the one the embedded subgraphs share, or no event
   * reaches a subscriber).
   */
  readonly events?: EventBus;
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

  // Before anything opens: a wrong METRICS_* variable stops the start like any other configuration error.
  const configuredMetrics = metricsSettingsFromEnv(process.env);
  // The gateway is the public door: in production its /metrics is served only behind METRICS_TOKEN (subgraphs are
  // scraped on the private network). Without a token it is switched off rather than left open.
  const metricsEndpoint =
    production && configuredMetrics.enabled && !configuredMetrics.token
      ? { enabled: false }
      : configuredMetrics;
  if (metricsEndpoint !== configuredMetrics) {
    logger.warn('METRICS_TOKEN is not set: the gateway does not serve /metrics in production');
  }
  // The subgraphs answer nothing without it; outside production the same development secret as theirs.
  const subgraphSecret = resolveSubgraphSecret(config.subgraphSecret.SUBGRAPH_SECRET, { production });
  const metrics = createServiceMetrics({ service: 'gateway', logger });
  const ownsKv = options.kv === undefined;
  const kv =
    options.kv ??
    createKeyValueStore({
      ...(config.rateLimit.REDIS_URL ? { redisUrl: config.rateLimit.REDIS_URL } : {}),
      logger,
    });
  const ownsEvents = options.events === undefined;
  const events =
    options.events ??
    createEventBus({
      ...(config.rateLimit.REDIS_URL ? { redisUrl: config.rateLimit.REDIS_URL } : {}),
      logger,
    });
  // Also closes the event bus this function opened: both are the gateway's connections to Redis.
  const closeKv = async () => {
    await Promise.all([ownsKv ? kv.close() : undefined, ownsEvents ? events.close() : undefined]);
  };
  let protection;
  try {
    protection = createGatewayProtection(
      {
        production,
        issuer: config.wellKnown.JWT_ISSUER,
        publicKeys: publishedKeys,
        gatewayAuth: config.gatewayAuth,
        rateLimit: config.rateLimit,
        queryLimits: config.queryLimits,
        cors: config.cors,
        trustProxy: config.trustProxy,
      },
      { kv, logger, metrics },
    );
  } catch (error) {
    await closeKv();
    throw error;
  }
  if (!protection.authenticator) {
    logger.warn('JWT_PUBLIC_KEY is not set: the gateway verifies no token (the subgraphs still do)');
  }
  // The administrator's `rateLimits` setting, as access-control publishes it to the shared store (never rejects).
  const rateLimitSettings = config.rateLimit.RATE_LIMIT_ENABLED
    ? await startRateLimitSettingsReader({ kv, events, target: protection, logger })
    : undefined;
  const stopRateLimitSettings = async () => {
    await rateLimitSettings?.close();
    await closeKv();
  };

  const service = await startGateway({
    supergraphSdl,
    subgraphUrls: subgraphUrlsFrom(config.subgraphs),
    subgraphSecret,
    logger,
    production,
    playground: playgroundEnabled(production, config.playground),
    host: config.http.GATEWAY_HOST,
    port: config.http.GATEWAY_PORT,
    wellKnown: { issuer: config.wellKnown.JWT_ISSUER, keys: publishedKeys },
    protection,
    metrics,
    metricsEndpoint,
    realtime: { events },
    // API usage by operation, flushed to access-control over the bus (its admin metrics).
    usage: createUsageRecorder({ events, logger }),
  }).catch(async (error: unknown) => {
    await stopRateLimitSettings();
    throw error;
  });
  return { url: `${service.url}/graphql`, stop: () => service.stop().finally(stopRateLimitSettings) };
}

/** GATEWAY_WORKERS > 1: this process becomes the primary of a cluster of that many gateway workers. */
function clusterWorkers(): number {
  if (!cluster.isPrimary) return 1;
  try {
    return loadConfig({ workers: workersConcern }, process.env).workers.GATEWAY_WORKERS;
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    return process.exit(1);
  }
}

if (require.main === module) {
  const workers = clusterWorkers();
  if (workers > 1) {
    const logger = createLogger({ name: 'gateway' });
    if (!process.env.REDIS_URL) {
      logger.warn(
        { workers },
        'GATEWAY_WORKERS without REDIS_URL: each worker keeps its own rate-limit counters (limits x workers)',
      );
    }
    runGatewayCluster({ workers, logger });
  } else {
    start().then(
      (gateway) => stopOnSignals(gateway, createLogger({ name: 'gateway' })),
      (error: unknown) => {
        // ConfigError's message lists every wrong variable; print it rather than a stack.
        console.error(error instanceof ConfigError ? error.message : error);
        process.exit(1);
      },
    );
  }
}
