/**
 * The access-control subgraph as a process: `npm run dev -w @gatehouse/subgraph-access-control` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import './instrument';
import { concerns, loadConfigOrExit } from '@gatehouse/config';
import { startAuditEventRelay } from '@gatehouse/audit';
import { createEventBus, type EventBus } from '@gatehouse/events';
import {
  runService,
  startSubgraph,
  type RunningSubgraph,
  type StartSubgraphOptions,
} from '@gatehouse/service';
import { createApp } from './app';
import { startApiUsageConsumer } from './metrics';

export type { RunningSubgraph };

export function start(
  env: NodeJS.ProcessEnv = process.env,
  shared: Pick<StartSubgraphOptions<never>, 'kv'> & { events?: EventBus } = {},
): Promise<RunningSubgraph> {
  const { events: sharedEvents, ...kit } = shared;
  return startSubgraph({
    name: 'access-control',
    envPrefix: 'ACCESS_CONTROL',
    env,
    ...kit,
    async createApp(runtime) {
      const { redis, database } = loadConfigOrExit(
        { redis: concerns.redis, database: concerns.database },
        runtime.env,
      );
      // The bus identity listens on (Redis with REDIS_URL): a setting changed through the admin API makes every
      // process drop its cached copy at once (SETTINGS_CHANGED_TOPIC), instead of after the cache TTL.
      let events = sharedEvents;
      if (!events) {
        const own = createEventBus({
          ...(redis.REDIS_URL ? { redisUrl: redis.REDIS_URL } : {}),
          logger: runtime.logger,
        });
        runtime.onStop(() => own.close());
        events = own;
      }
      // Every committed audit row, whichever service wrote it, onto the bus: the gateway's live `auditEvents`.
      if (database.DATABASE_URL) {
        const bus = events;
        const relay = startAuditEventRelay({
          connection: { connectionString: database.DATABASE_URL },
          publish: (topic, notice) => bus.publish(topic, notice),
          logger: runtime.logger.child({ module: 'audit-relay' }),
        });
        runtime.onStop(() => relay.close());
      }
      // The gateway's request counts (API usage by operation) into api_usage_daily, for the admin metrics.
      const stopUsage = await startApiUsageConsumer({
        prisma: runtime.prisma,
        events,
        kv: runtime.kv,
        logger: runtime.logger.child({ module: 'api-usage' }),
      });
      runtime.onStop(stopUsage);
      const app = createApp({ ...runtime, events });
      // The stored `rateLimits` (or none) for the gateway, before traffic arrives; never rejects.
      await app.publishRateLimits();
      return app;
    },
  });
}

if (require.main === module) runService('access-control', start);
