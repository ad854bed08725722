import type { MailLogger } from './mail-queue';
import type { Mailer } from './mailer';

/** Defaults: look every 5 minutes for deliveries QUEUED and untouched for 15 (longer than the longest backoff). */
export const DEFAULT_SWEEP_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_REQUEUE_AFTER_MS = 15 * 60_000;

export interface StaleDeliverySweepOptions {
  mailer: Pick<Mailer, 'requeueStale'>;
  logger: Pick<MailLogger, 'warn' | 'error'>;
  /** Default {@link DEFAULT_SWEEP_INTERVAL_MS}. */
  intervalMs?: number;
  /** Default {@link DEFAULT_REQUEUE_AFTER_MS}. */
  requeueAfterMs?: number;
}

/**
 * Nothing lost: a delivery whose enqueue failed (queue unreachable, process restarted with an in-process queue)
 * stays QUEUED in PostgreSQL; this timer queues it again. Runs never overlap, and the timer does not keep the
 * process alive. @returns stop, which waits for a run in progress.
 */
export function startStaleDeliverySweep(options: StaleDeliverySweepOptions): () => Promise<void> {
  const { mailer, logger } = options;
  const intervalMs = options.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  const olderThanMs = options.requeueAfterMs ?? DEFAULT_REQUEUE_AFTER_MS;
  let running: Promise<void> | null = null;

  const timer = setInterval(() => {
    if (running) return;
    running = mailer
      .requeueStale({ olderThanMs })
      .then(({ requeued }) => {
        if (requeued > 0) logger.warn({ requeued }, 'mail: re-queued stale deliveries');
      })
      .catch((err: unknown) => logger.error({ err }, 'mail: stale-delivery sweep failed'))
      .finally(() => {
        running = null;
      });
  }, intervalMs);
  timer.unref();

  return async () => {
    clearInterval(timer);
    await running;
  };
}
