/**
 * OpenTelemetry, when OTEL_EXPORTER_OTLP_ENDPOINT is set (a no-op otherwise). Imported first by main.ts: the
 * instrumentations patch http, graphql, ioredis and Prisma as they load, so they must be in place before them.
 */
import { startTracing } from '@gatehouse/service/tracing';

startTracing({ serviceName: 'billing' });
