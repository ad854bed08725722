import cluster from 'node:cluster';
import type { Logger } from '@gatehouse/logger';

export interface GatewayClusterOptions {
  /** How many workers to keep running (GATEWAY_WORKERS, at least 2 to be worth a primary process). */
  readonly workers: number;
  readonly logger: Logger;
  /** How long the workers get to drain after SIGTERM/SIGINT before they are killed; default 20 s. */
  readonly shutdownGraceMs?: number;
}

/**
 * The primary of a `node:cluster` gateway (GATEWAY_WORKERS > 1): forks the workers, which each run the whole
 * gateway (`start()`) and share the listening port (the primary hands connections out round-robin). It serves
 * nothing itself. A worker that dies is replaced; on SIGTERM/SIGINT every worker is told to stop (each drains its
 * requests, see `stopOnSignals`) and the primary exits once they have, 0 when all exited cleanly.
 */
export function runGatewayCluster(options: GatewayClusterOptions): void {
  const { workers, logger, shutdownGraceMs = 20_000 } = options;
  let stopping = false;
  let failed = false;
  const startedAt = Date.now();
  const live = () => Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: live().length }, 'Stopping gateway workers');
    for (const worker of live()) worker.process.kill(signal);
    setTimeout(() => {
      for (const worker of live()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, shutdownGraceMs).unref();
    if (live().length === 0) process.exit(0);
  };

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (code !== 0) failed = true;
      if (live().length === 0) process.exit(failed ? 1 : 0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'Gateway worker exited');
    // A worker that fails right after the start (configuration, a missing supergraph) would fail again each time
    // it is replaced: stop the whole gateway instead, so the supervisor sees the failure.
    if (code !== 0 && Date.now() - startedAt < 10_000) {
      failed = true;
      stop('SIGTERM');
      return;
    }
    cluster.fork();
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < workers; i += 1) cluster.fork();
  logger.info({ workers }, 'Gateway cluster started');
}
