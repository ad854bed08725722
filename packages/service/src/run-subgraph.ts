import { concerns, DEFAULT_PORTS, loadConfigOrExit } from '@gatehouse/config';
import { checkDatabase, createDatabase, type Database } from '@gatehouse/db';
import { createKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { createAccessTokenVerifier } from './auth';
import type { BaseContext } from './context';
import {
  GRAPHQL_PATH,
  startHttpService,
  type GraphQLEndpoint,
  type ReadinessCheck,
  type RouteHandler,
} from './http-server';
import { createServiceMetrics, metricsSettingsFromEnv, type ServiceMetrics } from './metrics';
import { createSessionActivityRecorder, createSessionLivenessQuery } from './session-liveness';
import { createSessionStatusChecker, type SessionCheck } from './session-status';
import type { SubgraphAppDependencies } from './subgraph-app';
import { createServiceKit, type ServiceKit, type SharedServiceResources } from './service-kit';
import { resolveSubgraphSecret } from './subgraph-secret';

/** The prefix of a subgraph's variables (`IDENTITY_PORT`, `IDENTITY_HOST`); also picks its default port. */
export type SubgraphEnvPrefix = Exclude<keyof typeof DEFAULT_PORTS, 'GATEWAY'>;

/** What a subgraph serves: GraphQL, and optionally plain HTTP routes (checked before GraphQL). */
export interface SubgraphEndpoint<C extends BaseContext> extends GraphQLEndpoint<C> {
  routes?: RouteHandler;
}

export interface StartSubgraphOptions<C extends BaseContext> {
  /** Service name for logs, e.g. `access-control`. */
  name: string;
  envPrefix: SubgraphEnvPrefix;
  /** May be async: a subgraph can open its own resources first and register their shutdown with `onStop`. */
  createApp(runtime: SubgraphRuntime): SubgraphEndpoint<C> | Promise<SubgraphEndpoint<C>>;
  env?: NodeJS.ProcessEnv;
  /**
   * A store shared by every service of this process (the root start script without Redis), so a revocation
   * written by identity reaches all subgraphs at once. The caller closes it. Default: one of this subgraph's own.
   */
  kv?: KeyValueStore;
  /** The event bus and object storage of the root start script, shared by its services. The caller closes them. */
  shared?: SharedServiceResources;
}

/** What `startSubgraph` hands a subgraph's `createApp`: the common dependencies plus the process's resources. */
export interface SubgraphRuntime extends SubgraphAppDependencies {
  /**
   * The key/value store (Redis with REDIS_URL, else in-process). `sessionCheck` reads session status from it;
   * identity writes revocations to it. Without Redis and without a shared `kv` option, in-process stores are
   * per `startSubgraph` call: a revocation then reaches other subgraphs through Postgres once their cached
   * answer (15 s) expires.
   */
  kv: KeyValueStore;
  /** The pg pool under `prisma`, for hot reads that Prisma's query engine would make several times dearer. */
  pool: Database['pool'];
  /** The environment the subgraph was started with, for its own configuration concerns. */
  env: NodeJS.ProcessEnv;
  /** Registers a shutdown step, run after HTTP has drained (last registered, first run). */
  onStop(stop: () => Promise<void>): void;
  /** This service's Prometheus metrics (served at `/metrics`): business counters and gauges go here. */
  metrics: ServiceMetrics;
  /**
   * The event bus, job queue, settings store, storage, cipher and service mail of this process, built on first
   * use and closed after the subgraph's own stop steps.
   */
  kit: ServiceKit;
}

export interface RunningSubgraph {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4001/graphql`. */
  url: string;
  /** Stops HTTP (draining requests), then the subgraph's own steps, the kit, Redis and the database pool. */
  stop(): Promise<void>;
}

/**
 * Runs a subgraph as a service: reads its configuration (exiting with every wrong variable named), opens
 * the database and the key/value store (Redis when REDIS_URL is set), verifies access tokens with
 * JWT_PUBLIC_KEY (every request is anonymous without it), refuses tokens of revoked sessions (`sessionCheck`)
 * and serves GraphQL on `<PREFIX>_HOST:<PREFIX>_PORT` to the gateway only (SUBGRAPH_SECRET, see `startHttpService`).
 *
 * @throws Error when DATABASE_URL is unset: only the root start script provides the embedded default.
 */
export async function startSubgraph<C extends BaseContext>(
  options: StartSubgraphOptions<C>,
): Promise<RunningSubgraph> {
  const { name, envPrefix } = options;
  const config = loadConfigOrExit(
    {
      runtime: concerns.runtime,
      database: concerns.database,
      redis: concerns.redis,
      http: concerns.http(envPrefix, DEFAULT_PORTS[envPrefix]),
      auth: concerns.auth,
      subgraphSecret: concerns.subgraphSecret,
    },
    options.env ?? process.env,
  );
  const logger = createLogger({ name, level: config.runtime.LOG_LEVEL });
  const env = options.env ?? process.env;
  // Read before anything opens: a wrong METRICS_* variable stops the start like any other configuration error.
  const metricsEndpoint = metricsSettingsFromEnv(env);
  const metrics = createServiceMetrics({ service: name, logger });
  const databaseUrl = config.database.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error(
      'DATABASE_URL is not set. Run the subgraph with DATABASE_URL, or use `npm start` (embedded PostgreSQL).',
    );
  }
  // Only the gateway is answered (health probes aside): the secret it sends with every request.
  const subgraphSecret = resolveSubgraphSecret(config.subgraphSecret.SUBGRAPH_SECRET, {
    production: config.runtime.NODE_ENV === 'production',
  });

  const db = createDatabase({ url: databaseUrl, poolMax: config.database.DATABASE_POOL_MAX });
  const redisUrl = config.redis.REDIS_URL;
  const ownsKv = options.kv === undefined;
  const kv = options.kv ?? createKeyValueStore({ ...(redisUrl ? { redisUrl } : {}), logger });
  const closeKv = () => (ownsKv ? kv.close() : Promise.resolve());
  const { JWT_PUBLIC_KEY, JWT_ISSUER, JWT_AUDIENCE } = config.auth;
  if (!JWT_PUBLIC_KEY) logger.warn('JWT_PUBLIC_KEY is not set: every request is treated as anonymous');
  const verifier = JWT_PUBLIC_KEY
    ? createAccessTokenVerifier({ publicKeyPem: JWT_PUBLIC_KEY, issuer: JWT_ISSUER, audience: JWT_AUDIENCE })
    : null;

  const readinessChecks: Record<string, ReadinessCheck> = {
    database: async () => void (await checkDatabase(db.pool)),
  };
  if (redisUrl) readinessChecks.redis = () => kv.ping();
  const sessionStatus = createSessionStatusChecker({
    kv,
    isSessionActive: createSessionLivenessQuery(db.prisma),
    onCacheError: (err) => logger.warn({ err }, 'session status cache unavailable; asking PostgreSQL'),
  });
  const recordActivity = createSessionActivityRecorder(db.prisma, kv, {
    onError: (err) => logger.warn({ err }, 'session activity not recorded'),
  });
  // A live session's use is recorded in the background (throttled): it must not slow the request down.
  const sessionCheck: SessionCheck = async (viewer) => {
    const live = await sessionStatus(viewer);
    if (live && viewer.sessionId !== undefined) void recordActivity(viewer.sessionId);
    return live;
  };
  const kit = createServiceKit({
    prisma: db.prisma,
    logger,
    kv,
    env,
    ...(options.shared ? { shared: options.shared } : {}),
  });
  const stopSteps: (() => Promise<void>)[] = [];
  const runStopSteps = async () => {
    for (const step of stopSteps.splice(0).reverse()) await step();
  };

  try {
    const app = await options.createApp({
      prisma: db.prisma,
      pool: db.pool,
      logger,
      verifier,
      production: config.runtime.NODE_ENV === 'production',
      sessionCheck,
      kv,
      env,
      onStop: (step) => void stopSteps.push(step),
      metrics,
      kit,
    });
    const service = await startHttpService({
      name,
      host: config.http[`${envPrefix}_HOST` as const],
      port: config.http[`${envPrefix}_PORT` as const],
      logger,
      graphql: app,
      ...(app.routes ? { routes: app.routes } : {}),
      readinessChecks,
      metrics,
      metricsEndpoint,
      subgraphSecret,
    });
    return {
      url: `${service.url}${GRAPHQL_PATH}`,
      stop: async () => {
        await service.stop();
        await runStopSteps();
        await kit.close();
        await closeKv();
        await db.close();
      },
    };
  } catch (err) {
    await runStopSteps();
    await kit.close();
    await closeKv();
    await db.close();
    throw err;
  }
}
