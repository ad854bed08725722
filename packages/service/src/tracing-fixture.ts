/**
 * Child process of `tracing-sdk.test.ts` (run with tsx): a service started the way a `main.ts` starts one,
 * serving one request that carries FIXTURE_TRACEPARENT. Prints one JSON line with what the client saw, after
 * the spans were flushed to OTEL_EXPORTER_OTLP_ENDPOINT; the service's own JSON logs go to stdout before it.
 */
import { tracing } from './tracing-fixture-instrument';
import { createLogger } from '@gatehouse/logger';
import { startHttpService } from './http-server';
import { currentTraceContext } from './tracing';

async function main(): Promise<void> {
  const logger = createLogger({ name: 'tracing-fixture', level: 'info' });
  const service = await startHttpService({
    name: 'tracing-fixture',
    host: '127.0.0.1',
    port: 0,
    logger,
    readinessChecks: {},
    metricsEndpoint: { enabled: false },
    routes: async (_req, res) => {
      logger.info('serving /hello');
      res.end(JSON.stringify({ traceId: currentTraceContext()?.traceId }));
      return true;
    },
  });
  const response = await fetch(`${service.url}/hello`, {
    headers: { traceparent: process.env.FIXTURE_TRACEPARENT ?? '' },
  });
  const body = (await response.json()) as unknown;
  await service.stop();
  await tracing.shutdown();
  const result = {
    fixture: true,
    enabled: tracing.enabled,
    traceIdHeader: response.headers.get('x-trace-id'),
    traceresponse: response.headers.get('traceresponse'),
    body,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
