/**
 * The access-control subgraph as a process: `npm run dev -w @gatehouse/subgraph-access-control` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import { concerns, DEFAULT_PORTS, loadConfigOrExit } from '@gatehouse/config';
import { checkDatabase, createDatabase } from '@gatehouse/db';
import { createKeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import {
  createAccessTokenVerifier,
  startHttpService,
  stopOnSignals,
  type ReadinessCheck,
} from '@gatehouse/service';
import { createApp } from './app';

const SERVICE = 'access-control';

export interface RunningSubgraph {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4003/graphql`. */
  url: string;
  stop(): Promise<void>;
}

export async function start(env: NodeJS.ProcessEnv = process.env): Promise<RunningSubgraph> {
  const config = loadConfigOrExit(
    {
      runtime: concerns.runtime,
      database: concerns.database,
      redis: concerns.redis,
      http: concerns.http('ACCESS_CONTROL', DEFAULT_PORTS.ACCESS_CONTROL),
      auth: concerns.auth,
    },
    env,
  );
  const logger = createLogger({ name: SERVICE, level: config.runtime.LOG_LEVEL });
  const databaseUrl = config.database.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error(
      'DATABASE_URL is not set. Run the subgraph with DATABASE_URL, or use `npm start` (embedded PostgreSQL).',
    );
  }

  const db = createDatabase({ url: databaseUrl, poolMax: config.database.DATABASE_POOL_MAX });
  const kv = config.redis.REDIS_URL
    ? createKeyValueStore({ redisUrl: config.redis.REDIS_URL, logger })
    : null;
  const { JWT_PUBLIC_KEY, JWT_ISSUER, JWT_AUDIENCE } = config.auth;
  if (!JWT_PUBLIC_KEY) logger.warn('JWT_PUBLIC_KEY is not set: every request is treated as anonymous');
  const verifier = JWT_PUBLIC_KEY
    ? createAccessTokenVerifier({ publicKeyPem: JWT_PUBLIC_KEY, issuer: JWT_ISSUER, audience: JWT_AUDIENCE })
    : null;

  const readinessChecks: Record<string, ReadinessCheck> = {
    database: async () => void (await checkDatabase(db.pool)),
  };
  if (kv) readinessChecks.redis = () => kv.ping();

  try {
    const app = createApp({
      prisma: db.prisma,
      logger,
      verifier,
      production: config.runtime.NODE_ENV === 'production',
    });
    const service = await startHttpService({
      name: SERVICE,
      host: config.http.ACCESS_CONTROL_HOST,
      port: config.http.ACCESS_CONTROL_PORT,
      logger,
      graphql: app,
      readinessChecks,
    });
    return {
      url: `${service.url}/graphql`,
      stop: async () => {
        await service.stop();
        await kv?.close();
        await db.close();
      },
    };
  } catch (err) {
    await kv?.close();
    await db.close();
    throw err;
  }
}

if (require.main === module) {
  start().then(
    (running) => stopOnSignals(running, createLogger({ name: SERVICE })),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
