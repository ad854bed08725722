/**
 * The identity subgraph as a process: `npm run dev -w @gatehouse/subgraph-identity` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import { loadConfigOrExit } from '@gatehouse/config';
import {
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
  shared: Pick<StartSubgraphOptions<never>, 'kv'> = {},
): Promise<RunningSubgraph> {
  return startSubgraph({
    name: 'identity',
    envPrefix: 'IDENTITY',
    env,
    ...shared,
    async createApp(runtime) {
      const config = loadConfigOrExit(identityConcerns, runtime.env);
      const { services, close } = await createIdentityServices({
        prisma: runtime.prisma,
        logger: runtime.logger,
        config,
        kv: runtime.kv,
        // ~130 MB, opened once per process.
        geo: await openGeoLocator(),
      });
      runtime.onStop(close);
      return createApp({ ...runtime, identity: services });
    },
  });
}

if (require.main === module) runService('identity', start);
