/**
 * The identity subgraph as a process: `npm run dev -w @gatehouse/subgraph-identity` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import './instrument';
import { loadConfigOrExit } from '@gatehouse/config';
import {
  collectJobQueueDepth,
  runService,
  startSubgraph,
  type RunningSubgraph,
  type StartSubgraphOptions,
} from '@gatehouse/service';
import { createApp } from './app';
import { identityConcerns } from './config';
import { createIdentityServices } from './runtime';
import { openGeoLocator } from './sessions';

export type { RunningSubgraph };

export function start(
  env: NodeJS.ProcessEnv = process.env,
  shared: Pick<StartSubgraphOptions<never>, 'kv' | 'shared'> = {},
): Promise<RunningSubgraph> {
  return startSubgraph({
    name: 'identity',
    envPrefix: 'IDENTITY',
    env,
    ...shared,
    async createApp(runtime) {
      const config = loadConfigOrExit(identityConcerns, runtime.env);
      const { services, close, jobQueue, countLiveSessions } = await createIdentityServices({
        prisma: runtime.prisma,
        logger: runtime.logger,
        config,
        kv: runtime.kv,
        kit: runtime.kit,
        // ~130 MB, opened once per process.
        geo: await openGeoLocator(),
      });
      runtime.onStop(close);
      collectJobQueueDepth(runtime.metrics, jobQueue);
      // Live sessions (not revoked, not expired), counted in PostgreSQL at most every 30 s of scrapes.
      runtime.metrics.collectGauge(runtime.metrics.gauges.activeSessions, countLiveSessions, {
        minIntervalMs: 30_000,
      });
      return createApp({ ...runtime, identity: services });
    },
  });
}

if (require.main === module) runService('identity', start);
