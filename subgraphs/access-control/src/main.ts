/**
 * The access-control subgraph as a process: `npm run dev -w @gatehouse/subgraph-access-control` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import './instrument';
import { loadConfigOrExit } from '@gatehouse/config';
import {
  runService,
  startSubgraph,
  type RunningSubgraph,
  type StartSubgraphOptions,
} from '@gatehouse/service';
import { createApp } from './app';
import { accessControlConcerns } from './config';
import { startAccessControlRuntime } from './runtime';

export type { RunningSubgraph };

export function start(
  env: NodeJS.ProcessEnv = process.env,
  shared: Pick<StartSubgraphOptions<never>, 'kv' | 'shared'> = {},
): Promise<RunningSubgraph> {
  return startSubgraph({
    name: 'access-control',
    envPrefix: 'ACCESS_CONTROL',
    env,
    ...shared,
    async createApp(runtime) {
      const config = loadConfigOrExit(accessControlConcerns, runtime.env);
      // The bus identity listens on: a setting changed through the admin API makes every process drop its
      // cached copy at once (SETTINGS_CHANGED_TOPIC), instead of after the cache TTL.
      const { events, settings } = runtime.kit;
      await startAccessControlRuntime({
        prisma: runtime.prisma,
        logger: runtime.logger,
        kv: runtime.kv,
        onStop: runtime.onStop,
        config,
        events,
      });
      const app = createApp({ ...runtime, events, settings });
      // The stored `rateLimits` (or none) for the gateway, before traffic arrives; never rejects.
      await app.publishRateLimits();
      return app;
    },
  });
}

if (require.main === module) runService('access-control', start);
