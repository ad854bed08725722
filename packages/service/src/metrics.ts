/*
 * Long on purpose (~530 lines): every metric name, its registry and the Apollo plugin that feeds it stay in one
 * file, because dashboards and alert rules under deploy/ are checked against this single list.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServerPlugin, BaseContext as ApolloBaseContext, GraphQLResponse } from '@apollo/server';
import { ConfigError, type Environment } from '@gatehouse/config';
import { isAppError } from '@gatehouse/errors';
import type { Logger } from '@gatehouse/logger';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { currentTraceContext } from './tracing';

/**
 * Every metric name the kit defines, in one place: dashboards and alert rules under `deploy/` may only use these
 * (and prom-client's default process metrics); `metrics-deploy.test.ts` fails when one of them drifts.
 */
export const METRIC_NAMES = {
  httpRequests: 'gatehouse_http_requests_total',
  httpRequestDuration: 'gatehouse_http_request_duration_seconds',
  graphqlOperations: 'gatehouse_graphql_operations_total',
  graphqlOperationDuration: 'gatehouse_graphql_operation_duration_seconds',
  graphqlErrors: 'gatehouse_graphql_errors_total',
  registrations: 'gatehouse_registrations_total',
  logins: 'gatehouse_logins_total',
  tokenVerifications: 'gatehouse_access_token_verifications_total',
  subscriptionEvents: 'gatehouse_subscription_events_total',
  payments: 'gatehouse_payments_total',
  activeSessions: 'gatehouse_active_sessions',
  websocketConnections: 'gatehouse_websocket_connections',
  jobQueueDepth: 'gatehouse_job_queue_depth',
  metricCollectErrors: 'gatehouse_metric_collect_errors_total',
} as const;

/** Latency buckets (seconds) from a cache hit (5 ms) to the 30 s request timeout. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Operation names are chosen by clients: each distinct value is a new time series held in memory forever. Only
 * GraphQL names are kept, and only the first {@link MAX_OPERATION_NAMES} of them; later ones count as `other`.
 */
export const MAX_OPERATION_NAMES = 200;
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * Bounds client-chosen operation names: `anonymous` for none, `other` for anything that is not a GraphQL name or
 * comes after the first `max` distinct names. Used for metric labels and for the gateway's API-usage counts.
 */
export function createOperationLabeler(
  max: number = MAX_OPERATION_NAMES,
): (name: string | null | undefined) => string {
  const seen = new Set<string>();
  return (name) => {
    if (name === null || name === undefined || name === '') return 'anonymous';
    if (!GRAPHQL_NAME.test(name)) return 'other';
    if (seen.has(name)) return name;
    if (seen.size >= max) return 'other';
    seen.add(name);
    return name;
  };
}

/** What a gauge's collector returns: one value, or one per label set (label sets not returned disappear). */
export type GaugeReading<L extends string> =
  number | ReadonlyArray<{ labels: Record<L, string>; value: number }>;
export type GaugeCollector<L extends string> = () => GaugeReading<L> | Promise<GaugeReading<L>>;

export interface CollectOptions {
  /**
   * Reuse the last reading for this long (default 15 s), so several scrapers (or a scrape storm on a public
   * gateway) never turn into a database query each.
   */
  minIntervalMs?: number;
}

interface MetricConfig<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/** The metrics of one service. One per service, each with its own registry (see {@link createServiceMetrics}). */
export interface ServiceMetrics {
  readonly service: string;
  readonly registry: Registry;
  readonly http: {
    readonly requests: Counter<'method' | 'route' | 'status_code'>;
    readonly duration: Histogram<'method' | 'route' | 'status_code'>;
  };
  readonly graphql: {
    /** `outcome`: `success` (no errors) or `error` (at least one error in the response). */
    readonly operations: Counter<'operation_name' | 'operation_type' | 'outcome'>;
    readonly duration: Histogram<'operation_name' | 'operation_type'>;
    /** One per error in a response, by its `extensions.code`. */
    readonly errors: Counter<'operation_name' | 'code'>;
  };
  /** Business counters; each service increments those it owns (see docs/observability.md). */
  readonly business: {
    /** `method`: `password`, `oauth`, `invitation`... */
    readonly registrations: Counter<'method'>;
    /** `outcome`: `success`, `failure`, `mfa_required`, `locked`; `method`: `password`, `oauth`, `mfa`... */
    readonly logins: Counter<'outcome' | 'method'>;
    /** `outcome`: `valid`, `invalid`, `expired`, `revoked` (the gateway's token check). */
    readonly tokenVerifications: Counter<'outcome'>;
    /** `event`: `created`, `activated`, `canceled`, `past_due`, `renewed`... */
    readonly subscriptionEvents: Counter<'event'>;
    /** `outcome`: `succeeded`, `failed`, `refunded`. */
    readonly payments: Counter<'outcome'>;
  };
  readonly gauges: {
    /** Live sessions; identity gives it a collector (a count in PostgreSQL). */
    readonly activeSessions: Gauge<never>;
    /** Open graphql-ws connections; the gateway's WebSocket server increments and decrements it. */
    readonly websocketConnections: Gauge<never>;
    /** Jobs waiting, per queue; each service running workers gives it a collector. */
    readonly jobQueueDepth: Gauge<'queue'>;
  };
  /**
   * Computes `gauge` at scrape time with `collector` (replacing a previous one). A failing collector keeps the
   * last values, is logged, and counts in `gatehouse_metric_collect_errors_total` (visible from the next
   * scrape: collectors run while a scrape renders): one broken source never breaks the whole scrape.
   */
  collectGauge<L extends string>(
    gauge: Gauge<L>,
    collector: GaugeCollector<L>,
    options?: CollectOptions,
  ): void;
  /** Registers (or returns the already registered) counter: the API for metrics of a module's own. */
  counter<L extends string = never>(config: MetricConfig<L>): Counter<L>;
  gauge<L extends string = never>(config: MetricConfig<L>): Gauge<L>;
  histogram<L extends string = never>(config: MetricConfig<L> & { buckets?: number[] }): Histogram<L>;
  /** The bounded label for a client-chosen operation name (`anonymous`, `other`, or the name). */
  operationLabel(name: string | null | undefined): string;
  /** The Prometheus text exposition of this service's registry. */
  expose(): Promise<{ contentType: string; body: string }>;
}

export interface CreateServiceMetricsOptions {
  /** Added as the `service` label of every series, so one Prometheus can tell the services apart. */
  service: string;
  logger?: Logger;
  /** Include Node's process metrics (CPU, memory, event loop lag, GC) in {@link ServiceMetrics.expose}. Default true. */
  processMetrics?: boolean;
  /** Clock of the collector cache; tests inject one. */
  now?: () => number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

let processRegistry: Registry | undefined;
/**
 * prom-client's default metrics, once per process: they describe the process, not a service, and each
 * collection installs a GC observer and an event-loop monitor that can never be removed again.
 */
function processMetricsRegistry(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Creates a service's metrics on a registry of its own. Per-service registries because the root start script
 * runs every service in one process: with prom-client's global registry the services' metrics would collide
 * (or mix), while each service's `/metrics` now reports exactly its own, labelled with `service`.
 */
export function createServiceMetrics(options: CreateServiceMetricsOptions): ServiceMetrics {
  const { service, logger } = options;
  const now = options.now ?? Date.now;
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  const includeProcessMetrics = options.processMetrics ?? true;

  const collectErrors = new Counter({
    name: METRIC_NAMES.metricCollectErrors,
    help: 'Gauge collectors that failed during a scrape, by metric.',
    labelNames: ['metric'],
    registers: [registry],
  });
  const collectors = new Map<string, (gauge: Gauge<string>) => Promise<void>>();

  function existing<M>(name: string, kind: new (...args: never[]) => M): M | undefined {
    const metric = registry.getSingleMetric(name);
    if (metric === undefined) return undefined;
    if (!(metric instanceof kind)) throw new Error(`Metric ${name} is already registered as another type`);
    return metric;
  }
  function checkName(name: string): void {
    if (!METRIC_NAME.test(name)) throw new Error(`Invalid metric name: ${name}`);
  }

  function counter<L extends string = never>(config: MetricConfig<L>): Counter<L> {
    checkName(config.name);
    return (
      existing(config.name, Counter<L>) ??
      new Counter<L>({ ...config, labelNames: config.labelNames ?? [], registers: [registry] })
    );
  }
  function gauge<L extends string = never>(config: MetricConfig<L>): Gauge<L> {
    checkName(config.name);
    return (
      existing(config.name, Gauge<L>) ??
      new Gauge<L>({
        ...config,
        labelNames: config.labelNames ?? [],
        registers: [registry],
        // prom-client calls this on every scrape; a gauge without a collector is set by its owner directly.
        async collect() {
          await collectors.get(config.name)?.(this as Gauge<string>);
        },
      })
    );
  }
  function histogram<L extends string = never>(
    config: MetricConfig<L> & { buckets?: number[] },
  ): Histogram<L> {
    checkName(config.name);
    return (
      existing(config.name, Histogram<L>) ??
      new Histogram<L>({
        ...config,
        labelNames: config.labelNames ?? [],
        buckets: config.buckets ?? LATENCY_BUCKETS,
        registers: [registry],
      })
    );
  }

  function collectGauge<L extends string>(
    target: Gauge<L>,
    collector: GaugeCollector<L>,
    collectOptions: CollectOptions = {},
  ): void {
    const minIntervalMs = collectOptions.minIntervalMs ?? 15_000;
    // prom-client's Gauge type does not expose its name; the registry's own entry is the same object.
    const name = (target as unknown as { name: string }).name;
    if (registry.getSingleMetric(name) !== target) throw new Error(`Gauge ${name} is not in this registry`);
    let readAt: number | undefined;
    collectors.set(name, async (g) => {
      if (readAt !== undefined && now() - readAt < minIntervalMs) return;
      try {
        const reading = await collector();
        if (typeof reading === 'number') {
          g.set(reading);
        } else {
          g.reset();
          for (const { labels, value } of reading) g.set(labels, value);
        }
        readAt = now();
      } catch (err) {
        collectErrors.inc({ metric: name });
        logger?.warn({ err, metric: name }, 'Metric collector failed; keeping the last values');
      }
    });
  }

  const operationLabel = createOperationLabeler();

  const httpLabels = ['method', 'route', 'status_code'] as const;
  return {
    service,
    registry,
    http: {
      requests: counter({
        name: METRIC_NAMES.httpRequests,
        help: 'HTTP requests answered, by method, route and status code.',
        labelNames: httpLabels,
      }),
      duration: histogram({
        name: METRIC_NAMES.httpRequestDuration,
        help: 'Time from receiving an HTTP request to the end of its response, in seconds.',
        labelNames: httpLabels,
      }),
    },
    graphql: {
      operations: counter({
        name: METRIC_NAMES.graphqlOperations,
        help: 'GraphQL operations executed, by operation name, type and outcome (success or error).',
        labelNames: ['operation_name', 'operation_type', 'outcome'],
      }),
      duration: histogram({
        name: METRIC_NAMES.graphqlOperationDuration,
        help: 'GraphQL operation duration (parse to response), in seconds.',
        labelNames: ['operation_name', 'operation_type'],
      }),
      errors: counter({
        name: METRIC_NAMES.graphqlErrors,
        help: 'Errors in GraphQL responses, by operation name and extensions.code.',
        labelNames: ['operation_name', 'code'],
      }),
    },
    business: {
      registrations: counter({
        name: METRIC_NAMES.registrations,
        help: 'Accounts registered, by method.',
        labelNames: ['method'],
      }),
      logins: counter({
        name: METRIC_NAMES.logins,
        help: 'Sign-in attempts, by outcome and method.',
        labelNames: ['outcome', 'method'],
      }),
      tokenVerifications: counter({
        name: METRIC_NAMES.tokenVerifications,
        help: 'Access tokens checked at the gateway, by outcome.',
        labelNames: ['outcome'],
      }),
      subscriptionEvents: counter({
        name: METRIC_NAMES.subscriptionEvents,
        help: 'Billing subscription lifecycle events, by event.',
        labelNames: ['event'],
      }),
      payments: counter({
        name: METRIC_NAMES.payments,
        help: 'Payments processed, by outcome.',
        labelNames: ['outcome'],
      }),
    },
    gauges: {
      activeSessions: gauge({ name: METRIC_NAMES.activeSessions, help: 'Sessions that are currently live.' }),
      websocketConnections: gauge({
        name: METRIC_NAMES.websocketConnections,
        help: 'Open WebSocket (graphql-ws) connections.',
      }),
      jobQueueDepth: gauge({
        name: METRIC_NAMES.jobQueueDepth,
        help: 'Jobs waiting to run, by queue.',
        labelNames: ['queue'],
      }),
    },
    collectGauge,
    counter,
    gauge,
    histogram,
    operationLabel,
    async expose() {
      if (!includeProcessMetrics)
        return { contentType: registry.contentType, body: await registry.metrics() };
      // A registry per scrape: default labels belong to the registry that renders, and the process metrics
      // must carry this service's label even when several services of one process are scraped at once.
      const merged = Registry.merge([processMetricsRegistry(), registry]);
      merged.setDefaultLabels({ service });
      return { contentType: merged.contentType, body: await merged.metrics() };
    },
  };
}

/** `extensions.code` of a formatted error, bounded to UPPER_SNAKE codes (anything else: `UNKNOWN`). */
function errorCodeLabel(code: unknown): string {
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : 'UNKNOWN';
}

/** The code of an error thrown while building the context (before formatting): ours, Apollo's, or internal. */
function contextErrorCode(error: Error): string {
  if (isAppError(error)) return error.code;
  if (error instanceof GraphQLError) {
    if (typeof error.extensions.code === 'string') return errorCodeLabel(error.extensions.code);
    if (isAppError(error.originalError)) return error.originalError.code;
  }
  return 'INTERNAL_SERVER_ERROR';
}

function responseErrors(response: GraphQLResponse): readonly GraphQLFormattedError[] | undefined {
  return response.body.kind === 'single'
    ? response.body.singleResult.errors
    : response.body.initialResult.errors;
}

/**
 * The kit's Apollo plugin (installed by `startHttpService` on every GraphQL endpoint it serves, the gateway's
 * included; do not add it again): counts operations by name, type and outcome, times them, counts response
 * errors by `extensions.code`, and puts the request's trace id in the `extensions.traceId` of every response
 * that carries errors, so a user reporting an error can quote the id that finds its logs and trace. The id goes
 * in the response's `extensions` (once) rather than in each error's, which keeps error shapes as they are.
 */
export function observabilityPlugin<C extends ApolloBaseContext>(
  metrics: ServiceMetrics,
): ApolloServerPlugin<C> {
  return {
    async contextCreationDidFail({ error }) {
      const code = contextErrorCode(error);
      metrics.graphql.operations.inc({
        operation_name: 'unknown',
        operation_type: 'unknown',
        outcome: 'error',
      });
      metrics.graphql.errors.inc({ operation_name: 'unknown', code });
    },
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ response, operation, operationName }) {
          // `operation` is unset when the document did not parse or validate: the name is then not trustworthy.
          const name = operation ? metrics.operationLabel(operationName) : 'unknown';
          const type = operation?.operation ?? 'unknown';
          const errors = responseErrors(response);
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          metrics.graphql.duration.observe({ operation_name: name, operation_type: type }, seconds);
          metrics.graphql.operations.inc({
            operation_name: name,
            operation_type: type,
            outcome: errors && errors.length > 0 ? 'error' : 'success',
          });
          if (!errors || errors.length === 0) return;
          for (const error of errors) {
            metrics.graphql.errors.inc({
              operation_name: name,
              code: errorCodeLabel(error.extensions?.code),
            });
          }
          const traceId = currentTraceContext()?.traceId;
          if (traceId === undefined) return;
          if (response.body.kind === 'single') {
            const result = response.body.singleResult;
            result.extensions = { ...result.extensions, traceId };
          } else {
            const result = response.body.initialResult;
            result.extensions = { ...result.extensions, traceId };
          }
        },
      };
    },
  };
}

/** Whether and how `/metrics` is served; see {@link metricsSettingsFromEnv}. */
export interface MetricsEndpointSettings {
  /** Default true. */
  enabled: boolean;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  token?: string;
}

const FLAGS: Record<string, boolean> = {
  true: true,
  '1': true,
  yes: true,
  false: false,
  '0': false,
  no: false,
};
/** Long enough that it cannot be guessed online; the token is compared in constant time. */
const MIN_TOKEN_LENGTH = 16;

/**
 * Reads `METRICS_ENABLED` (true/false, 1/0, yes/no; default true) and `METRICS_TOKEN` (at least 16 characters).
 *
 * @throws ConfigError naming every wrong variable (never its value).
 */
export function metricsSettingsFromEnv(env: Environment = process.env): MetricsEndpointSettings {
  const issues: { variable: string; message: string }[] = [];
  const rawEnabled = env.METRICS_ENABLED?.trim().toLowerCase();
  const enabled = rawEnabled === undefined || rawEnabled === '' ? true : FLAGS[rawEnabled];
  if (enabled === undefined) issues.push({ variable: 'METRICS_ENABLED', message: 'must be true or false' });
  const token = env.METRICS_TOKEN?.trim() || undefined;
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    issues.push({ variable: 'METRICS_TOKEN', message: `must be at least ${MIN_TOKEN_LENGTH} characters` });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { enabled: enabled ?? true, ...(token ? { token } : {}) };
}

/** Compares digests, which have the same length whatever the inputs, so timing reveals nothing about the token. */
function tokenMatches(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Path of the Prometheus endpoint every service serves. */
export const METRICS_PATH = '/metrics';

/**
 * Serves `GET|HEAD /metrics` for `metrics` under `settings`; returns `false` (so the request falls through to the
 * 404) when metrics are disabled. With a token, anything but `Authorization: Bearer <token>` gets 401.
 */
export async function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: ServiceMetrics,
  settings: MetricsEndpointSettings,
): Promise<boolean> {
  if (!settings.enabled) return false;
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(payload);
    return true;
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return json(405, { error: 'Method not allowed' }, { allow: 'GET, HEAD' });
  }
  if (settings.token !== undefined) {
    const match = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
    if (!match || !tokenMatches(match[1] as string, settings.token)) {
      return json(401, { error: 'Unauthorized' }, { 'www-authenticate': 'Bearer realm="metrics"' });
    }
  }
  const { contentType, body } = await metrics.expose();
  res.writeHead(200, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/**
 * Reports a job queue's backlog (jobs waiting per job name) as `jobQueueDepth`, read at scrape time (at most every
 * 15 s). Structural, so the kit does not depend on @gatehouse/jobs.
 */
export function collectJobQueueDepth(
  metrics: ServiceMetrics,
  queue: { depths(): Promise<Record<string, number>> },
): void {
  metrics.collectGauge(
    metrics.gauges.jobQueueDepth,
    async () =>
      Object.entries(await queue.depths()).map(([name, value]) => ({ labels: { queue: name }, value })),
    { minIntervalMs: 15_000 },
  );
}
