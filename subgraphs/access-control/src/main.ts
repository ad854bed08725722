/**
 * The access-control subgraph as a process: `npm run dev -w @gatehouse/subgraph-access-control` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import {
  runService,
  startSubgraph,
  type RunningSubgraph,
  type StartSubgraphOptions,
} from '@gatehouse/service';
import { createApp } from './app';

export type { RunningSubgraph };

export function start(
  env: NodeJS.ProcessEnv = process.env,
  shared: Pick<StartSubgraphOptions<never>, 'kv'> = {},
): Promise<RunningSubgraph> {
  return startSubgraph({ name: 'access-control', envPrefix: 'ACCESS_CONTROL', createApp, env, ...shared });
}

if (require.main === module) runService('access-control', start);
