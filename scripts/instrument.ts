/** OpenTelemetry for the all-in-one process, when OTEL_EXPORTER_OTLP_ENDPOINT is set (a no-op otherwise). */
import { startTracing } from '@gatehouse/service/tracing';

startTracing({ serviceName: 'gatehouse' });
