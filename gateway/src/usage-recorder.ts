import { randomUUID } from 'node:crypto';
import type { ApolloServerPlugin, BaseContext, GraphQLResponse } from '@apollo/server';
import { API_USAGE_TOPIC, type EventBus } from '@gatehouse/events';
import type { Logger } from '@gatehouse/logger';
import { createOperationLabeler, MAX_OPERATION_NAMES } from '@gatehouse/service';

/**
 * The topic the gateway publishes its usage batches on. Access-control's consumer subscribes to the same string
 * (`subgraphs/access-control/src/metrics/api-usage.consumer.ts`); the two must stay equal.
 */
export { API_USAGE_TOPIC };

/** Default time between two flushes. */
export const DEFAULT_USAGE_FLUSH_INTERVAL_MS = 30_000;

/** Whether the response carried errors. */
export type UsageOutcome = 'ok' | 'error';

/** Requests of one operation on one UTC day with one outcome. */
export interface ApiUsageEntry {
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  /** A GraphQL name, `anonymous`, `other` (past the bound, or not a GraphQL name) or `unknown` (did not parse). */
  operation: string;
  /** `query`, `mutation`, `subscription` or `unknown`. */
  operationType: string;
  outcome: UsageOutcome;
  count: number;
}

/** The payload of one {@link API_USAGE_TOPIC} event: everything counted since the previous flush. */
export interface ApiUsageBatch {
  /**
   * Unique per published batch: pub/sub hands the batch to every access-control replica, and only the one that
   * claims this id records it.
   */
  batchId: string;
  entries: ApiUsageEntry[];
}

export interface UsageRecorderOptions {
  /** Where batches go. Only `publish` is used. */
  events: Pick<EventBus, 'publish'>;
  logger?: Logger;
  /** Default {@link DEFAULT_USAGE_FLUSH_INTERVAL_MS}; 0 disables the timer (tests call `flush()`). */
  flushIntervalMs?: number;
  /** Distinct operation names kept before the rest count as `other`; default the metrics' bound. */
  maxOperationNames?: number;
  /** Clock deciding the UTC day of a request (tests pin it). */
  now?: () => Date;
}

/**
 * Counts the gateway's GraphQL operations per (UTC day, operation name, type, outcome) in memory and publishes
 * them as one event every flush interval, so recording costs a map update per request and the database sees a
 * handful of upserts per interval, however busy the gateway is.
 */
export interface UsageRecorder {
  /** The Apollo plugin that records every operation (install before the server starts). */
  readonly plugin: ApolloServerPlugin<BaseContext>;
  /** Counts one request. `operationName` is the client's and is bounded here. */
  record(operationName: string | null | undefined, operationType: string, outcome: UsageOutcome): void;
  /**
   * Publishes what was counted since the last flush (nothing when nothing was). A failed publish puts the counts
   * back, so they go out with the next flush.
   */
  flush(): Promise<void>;
  /** Stops the timer and flushes one last time. Idempotent. */
  stop(): Promise<void>;
}

const OPERATION_TYPES = new Set(['query', 'mutation', 'subscription']);
const SEPARATOR = '\u0000';

function hasErrors(response: GraphQLResponse): boolean {
  const errors =
    response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
  return errors !== undefined && errors.length > 0;
}

/**
 * Creates a {@link UsageRecorder} and starts its flush timer (unref'd: it never keeps the process alive).
 * Operation names are bounded like the Prometheus labels (`ServiceMetrics.operationLabel`): a client choosing a
 * new name per request must not grow the batch, nor the rows access-control keeps per day.
 */
export function createUsageRecorder(options: UsageRecorderOptions): UsageRecorder {
  const { events, logger } = options;
  const now = options.now ?? (() => new Date());
  const maxNames = options.maxOperationNames ?? MAX_OPERATION_NAMES;
  const intervalMs = options.flushIntervalMs ?? DEFAULT_USAGE_FLUSH_INTERVAL_MS;

  const operationLabel = createOperationLabeler(maxNames);

  let counts = new Map<string, number>();
  function add(key: string, count: number): void {
    counts.set(key, (counts.get(key) ?? 0) + count);
  }

  function record(operationName: string | null | undefined, operationType: string, outcome: UsageOutcome) {
    const type = OPERATION_TYPES.has(operationType) ? operationType : 'unknown';
    const operation = type === 'unknown' ? 'unknown' : operationLabel(operationName);
    const day = now().toISOString().slice(0, 10);
    add([day, operation, type, outcome].join(SEPARATOR), 1);
  }

  async function flush(): Promise<void> {
    if (counts.size === 0) return;
    const taken = counts;
    counts = new Map();
    const entries: ApiUsageEntry[] = [...taken].map(([key, count]) => {
      const [day = '', operation = '', operationType = '', outcome = 'ok'] = key.split(SEPARATOR);
      return { day, operation, operationType, outcome: outcome as UsageOutcome, count };
    });
    try {
      await events.publish<ApiUsageBatch>(API_USAGE_TOPIC, { batchId: randomUUID(), entries });
    } catch (err) {
      // Bounded: the keys are the same bounded set, so putting them back cannot grow the map without limit.
      for (const [key, count] of taken) add(key, count);
      logger?.warn({ err }, 'API usage not published; retrying with the next flush');
    }
  }

  const timer =
    intervalMs > 0
      ? setInterval(() => {
          void flush();
        }, intervalMs).unref()
      : undefined;

  let stopped: Promise<void> | undefined;
  return {
    plugin: {
      async contextCreationDidFail() {
        // Refused before execution (a bad token): counted, but nothing about the operation is trustworthy.
        record(undefined, 'unknown', 'error');
      },
      async requestDidStart() {
        return {
          async willSendResponse({ response, operation, operationName }) {
            // `operation` is unset when the document did not parse or validate: its name is not trustworthy.
            record(
              operation ? operationName : undefined,
              operation?.operation ?? 'unknown',
              hasErrors(response) ? 'error' : 'ok',
            );
          },
        };
      },
    },
    record,
    flush,
    stop: () => {
      if (timer) clearInterval(timer);
      return (stopped ??= flush());
    },
  };
}
