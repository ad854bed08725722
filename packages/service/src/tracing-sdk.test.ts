import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { otlpTracesEndpoint, startTracing } from './tracing-sdk';

const ROOT = path.resolve(__dirname, '../../..');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  name: string;
}
interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}

describe('otlpTracesEndpoint', () => {
  it('appends /v1/traces to the base endpoint, and takes the traces endpoint as is', () => {
    expect(otlpTracesEndpoint({})).toBeUndefined();
    expect(otlpTracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(
      otlpTracesEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:4318/custom',
      }),
    ).toBe('http://other:4318/custom');
  });
});

describe('startTracing', () => {
  it('does nothing without an OTLP endpoint', async () => {
    const tracing = startTracing({ serviceName: 'x', env: {} });
    expect(tracing.enabled).toBe(false);
    expect(tracing.endpoint).toBeUndefined();
    // Once per process: a second call returns the same handle.
    expect(
      startTracing({ serviceName: 'y', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' } }),
    ).toBe(tracing);
    await tracing.shutdown();
  });

  describe('with a collector', () => {
    let collector: Server;
    let endpoint: string;
    const exports: OtlpExport[] = [];

    beforeAll(async () => {
      // Speaks OTLP/HTTP JSON, as the OpenTelemetry collector does on :4318.
      collector = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          if (req.url === '/v1/traces' && req.method === 'POST') {
            exports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    });

    it('exports the server span of a request, continuing its traceparent, with the ids the logs carry', async () => {
      // A process of its own: instrumentations patch `http` process-wide, which must not leak into other tests.
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          path.join(ROOT, 'node_modules/.bin/tsx'),
          ['--conditions=source', path.join(__dirname, 'tracing-fixture.ts')],
          {
            cwd: ROOT,
            env: {
              ...process.env,
              OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
              FIXTURE_TRACEPARENT: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`,
            },
            timeout: 60_000,
          },
          (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
        );
      });
      const lines = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const result = lines.find((line) => line.fixture === true);
      const served = lines.find((line) => line.msg === 'serving /hello');
      expect(result).toMatchObject({ enabled: true, traceIdHeader: TRACE_ID, body: { traceId: TRACE_ID } });

      const spans = exports.flatMap((e) =>
        e.resourceSpans.flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) =>
            ss.spans.map((span) => ({
              ...span,
              service: rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
            })),
          ),
        ),
      );
      // SpanKind.SERVER is 2 in OTLP.
      const server = spans.find((span) => span.kind === 2);
      expect(server).toMatchObject({
        traceId: TRACE_ID,
        parentSpanId: PARENT_SPAN_ID,
        service: 'tracing-fixture',
      });
      // The response and every log line of the request name the exported span.
      expect(result?.traceresponse).toBe(`00-${TRACE_ID}-${server?.spanId}-01`);
      expect(served).toMatchObject({ traceId: TRACE_ID, spanId: server?.spanId });
    }, 60_000);
  });
});
