/**
 * OpenTelemetry for a service process, imported as `@gatehouse/service/tracing` so that starting it loads
 * nothing else of the kit. Instrumentations patch modules as they are `require`d: call {@link startTracing}
 * before the service's other modules load (see docs/observability.md for the two-line `instrument.ts`).
 */
import type { Environment } from '@gatehouse/config';
import type { Logger } from '@gatehouse/logger';
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GraphQLInstrumentation } from '@opentelemetry/instrumentation-graphql';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { PrismaInstrumentation } from '@prisma/instrumentation';

export interface StartTracingOptions {
  /** `service.name` of every span; the root start script, running every service in one process, uses `gatehouse`. */
  serviceName: string;
  serviceVersion?: string;
  /** Defaults to `process.env`. */
  env?: Environment;
  /** Told whether tracing started, and about export failures. */
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export interface Tracing {
  /** False when no OTLP endpoint is configured: nothing was registered and nothing is exported. */
  readonly enabled: boolean;
  /** Where spans go (`…/v1/traces`), when enabled. */
  readonly endpoint?: string;
  /** Flushes pending spans, then removes the instrumentations and the provider. */
  shutdown(): Promise<void>;
}

/** Requests that would only add noise to traces: probes and scrapes, every few seconds, from machines. */
const UNTRACED_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

let active: Tracing | undefined;

/** The traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. */
export function otlpTracesEndpoint(env: Environment): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Starts OpenTelemetry tracing when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
 * set: a NodeTracerProvider exporting over OTLP/HTTP in batches, registered globally with the W3C propagator,
 * and the HTTP (server and client: incoming `traceparent` is continued, outgoing requests carry it), GraphQL,
 * ioredis and Prisma instrumentations. Without an endpoint it does nothing, costs nothing, and the kit still
 * carries trace ids through `traceparent` and logs on its own.
 *
 * Once per process: a later call returns the first call's handle (the root start script starts tracing once
 * for all services, before their `main` modules, whose own call then changes nothing). Sampling follows the
 * standard `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` variables (default: parent-based, always on).
 */
export function startTracing(options: StartTracingOptions): Tracing {
  if (active) return active;
  const env = options.env ?? process.env;
  const endpoint = otlpTracesEndpoint(env);
  if (!endpoint) {
    active = { enabled: false, shutdown: async () => undefined };
    return active;
  }

  const provider = new NodeTracerProvider({
    resource: new Resource({
      [ATTR_SERVICE_NAME]: options.serviceName,
      ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  // Installs the AsyncLocalStorage context manager and the W3C traceparent/baggage propagator.
  provider.register();
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?', 1)[0] ?? ''),
      }),
      // One span per operation and per non-trivial resolver; default field resolvers would drown the trace.
      new GraphQLInstrumentation({ ignoreTrivialResolveSpans: true, mergeItems: true }),
      new IORedisInstrumentation(),
      new PrismaInstrumentation(),
    ],
  });
  options.logger?.info({ endpoint, serviceName: options.serviceName }, 'OpenTelemetry tracing enabled');

  const tracing: Tracing = {
    enabled: true,
    endpoint,
    async shutdown() {
      try {
        await provider.shutdown();
      } catch (err) {
        options.logger?.warn({ err }, 'OpenTelemetry: flushing spans failed');
      } finally {
        unregister();
        // Frees the globals, so a later startTracing (tests) can register again.
        trace.disable();
        context.disable();
        propagation.disable();
        if (active === tracing) active = undefined;
      }
    },
  };
  active = tracing;
  return tracing;
}
