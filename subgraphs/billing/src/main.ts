/**
 * The billing subgraph as a process: `npm run dev -w @gatehouse/subgraph-billing` (or `node dist/main.js`).
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
import { billingConcerns } from './config';
import { createBillingServices } from './runtime';

export type { RunningSubgraph };

export function start(
  env: NodeJS.ProcessEnv = process.env,
  shared: Pick<StartSubgraphOptions<never>, 'kv' | 'shared'> = {},
): Promise<RunningSubgraph> {
  return startSubgraph({
    name: 'billing',
    envPrefix: 'BILLING',
    env,
    ...shared,
    createApp(runtime) {
      const config = loadConfigOrExit(billingConcerns, runtime.env);
      const billing = createBillingServices({
        prisma: runtime.prisma,
        logger: runtime.logger,
        config,
        kv: runtime.kv,
        metrics: runtime.metrics,
        kit: runtime.kit,
      });
      runtime.onStop(() => billing.close());
      collectJobQueueDepth(runtime.metrics, billing.jobQueue);
      return createApp({ ...runtime, billing: billing.services, routes: billing.routes, kv: runtime.kv });
    },
  });
}

if (require.main === module) runService('billing', start);
