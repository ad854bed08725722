import { createLogger, type Logger } from '@gatehouse/logger';

/**
 * For a service's `main`: on the first SIGINT/SIGTERM, stop gracefully and exit 0 (1 if stopping failed);
 * a second signal exits immediately with 1, for when a drain hangs and an operator presses Ctrl-C again.
 */
export function stopOnSignals(service: { stop(): Promise<void> }, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'Second signal received; exiting immediately');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'Shutting down');
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'Error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * The entry point of a service run directly (`if (require.main === module) runService(...)`): starts it,
 * stops it on signals (see {@link stopOnSignals}), and exits with 1 when it cannot start.
 */
export function runService(name: string, start: () => Promise<{ stop(): Promise<void> }>): void {
  start().then(
    (running) => stopOnSignals(running, createLogger({ name })),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
