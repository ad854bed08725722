import type { JobQueue } from '@gatehouse/jobs';
import {
  WEBHOOK_DELIVERY_JOB,
  type WebhookDeliveryJob,
  type WebhookDeliveryService,
  type WebhookLogger,
} from './webhook-delivery.service';

export interface RegisterWebhookDeliveryJobOptions {
  jobQueue: Pick<JobQueue, 'process'>;
  service: Pick<WebhookDeliveryService, 'deliver'>;
  /** Deliveries attempted at the same time by this process. Default 4 (mostly waiting on receivers). */
  concurrency?: number;
}

/**
 * Registers the {@link WEBHOOK_DELIVERY_JOB} handler. The job never throws for a failed attempt: retries are
 * scheduled by the service (its own backoff, recorded in the row), not by the queue's generic backoff.
 */
export function registerWebhookDeliveryJob(options: RegisterWebhookDeliveryJobOptions): void {
  const { jobQueue, service } = options;
  jobQueue.process<WebhookDeliveryJob>(
    WEBHOOK_DELIVERY_JOB,
    async (data) => {
      await service.deliver(data.deliveryId);
    },
    { concurrency: options.concurrency ?? 4 },
  );
}

export interface WebhookSweep {
  stop(): void;
}

/**
 * Runs `deliverDue` every `intervalMs` (default 60 s) so deliveries whose job was lost (in-process queue on a
 * restart, Redis flushed, a worker dying mid-attempt) still go out. Concurrent sweeps on several replicas are
 * safe. The timer does not keep the process alive.
 */
export function startWebhookSweep(options: {
  service: Pick<WebhookDeliveryService, 'deliverDue'>;
  intervalMs?: number;
  logger?: WebhookLogger;
}): WebhookSweep {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    options.service
      .deliverDue()
      .catch((error: unknown) => options.logger?.error({ err: error }, 'webhook sweep failed'))
      .finally(() => {
        running = false;
      });
  }, options.intervalMs ?? 60_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
