/**
 * The account subgraph as a process: `npm run dev -w @gatehouse/subgraph-account` (or `node dist/main.js`).
 * `start()` is also used by the root start script, which runs every service in one process.
 */
import './instrument';
import {
  collectJobQueueDepth,
  runService,
  startSubgraph,
  type RunningSubgraph,
  type StartSubgraphOptions,
} from '@gatehouse/service';
import { loadConfigOrExit } from '@gatehouse/config';
import { createApp } from './app';
import { accountConcerns } from './config';
import { createAccountServices } from './runtime';

export type { RunningSubgraph };

export function start(
  env: NodeJS.ProcessEnv = process.env,
  shared: Pick<StartSubgraphOptions<never>, 'kv' | 'shared'> = {},
): Promise<RunningSubgraph> {
  return startSubgraph({
    name: 'account',
    envPrefix: 'ACCOUNT',
    env,
    ...shared,
    createApp(runtime) {
      // Every wrong variable is named before anything starts (the kit reads its own concerns on first use).
      loadConfigOrExit(accountConcerns, runtime.env);
      const { services, close, jobQueue } = createAccountServices({
        prisma: runtime.prisma,
        logger: runtime.logger,
        kv: runtime.kv,
        kit: runtime.kit,
      });
      runtime.onStop(close);
      collectJobQueueDepth(runtime.metrics, jobQueue);
      return createApp({ ...runtime, account: services });
    },
  });
}

if (require.main === module) runService('account', start);
