/**
 * The access-control subgraph as a process: `npm run dev -w @gatehouse/subgraph-access-control` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import './instrument';
import { loadConfigOrExit } from '@gatehouse/config';
import type { EventBus } from '@gatehouse/events';
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
  shared: Pick<StartSubgraphOptions<never>, 'kv'> & { events?: EventBus } = {},
): Promise<RunningSubgraph> {
  const { events: sharedEvents, ...kit } = shared;
  return startSubgraph({
    name: 'access-control',
    envPrefix: 'ACCESS_CONTROL',
    env,
    ...kit,
    async createApp(runtime) {
      const config = loadConfigOrExit(accessControlConcerns, runtime.env);
      const { events } = await startAccessControlRuntime({
        prisma: runtime.prisma,
        logger: runtime.logger,
        kv: runtime.kv,
        onStop: runtime.onStop,
        config,
        ...(sharedEvents ? { events: sharedEvents } : {}),
      });
      const app = createApp({ ...runtime, events });
      // The stored `rateLimits` (or none) for the gateway, before traffic arrives; never rejects.
      await app.publishRateLimits();
      return app;
    },
  });
}

if (require.main === module) runService('access-control', start);
