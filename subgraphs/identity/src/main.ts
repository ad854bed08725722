/**
 * The identity subgraph as a process: `npm run dev -w @gatehouse/subgraph-identity` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import { runService, startSubgraph, type RunningSubgraph } from '@gatehouse/service';
import { createApp } from './app';

export type { RunningSubgraph };

export function start(env: NodeJS.ProcessEnv = process.env): Promise<RunningSubgraph> {
  return startSubgraph({ name: 'identity', envPrefix: 'IDENTITY', createApp, env });
}

if (require.main === module) runService('identity', start);
