/**
 * The billing subgraph as a process: `npm run dev -w @gatehouse/subgraph-billing` (or `node dist/main.js`).
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
  return startSubgraph({ name: 'billing', envPrefix: 'BILLING', createApp, env, ...shared });
}

if (require.main === module) runService('billing', start);
