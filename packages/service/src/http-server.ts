import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext as ApolloBaseContext } from '@apollo/server';
import { REQUEST_ID_HEADER, requestIdFrom, runWithLogContext, type Logger } from '@gatehouse/logger';
import {
  createServiceMetrics,
  metricsSettingsFromEnv,
  METRICS_PATH,
  observabilityPlugin,
  serveMetrics,
  type MetricsEndpointSettings,
  type ServiceMetrics,
} from './metrics';
import {
  formatTraceparent,
  runWithTraceContext,
  traceContextFrom,
  TRACE_ID_HEADER,
  TRACERESPONSE_HEADER,
} from './tracing';
import { readBodyUpTo } from './request-body';
import {
  authenticateGatewayRequest,
  SUBGRAPH_SECRET_HEADER,
  SUBGRAPH_SECRET_REQUIRED,
} from './subgraph-secret';

/** A readiness probe: resolves when the dependency is usable, rejects (or times out) otherwise. */
export type ReadinessCheck = () => Promise<void>;

/**
 * Extra routes; return `true` when the request was handled (the response must then be ended by the route),
 * `false` to fall through to the JSON 404. Build a route with `createRestRoute` (rest-route.ts): it owns the
 * method, authentication, body and error handling every plain route needs, and the one error body.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<boolean>;

export interface GraphQLEndpoint<C extends ApolloBaseContext> {
  /** A not-yet-started ApolloServer; {@link startHttpService} starts and stops it. */
  server: ApolloServer<C>;
  /** Builds the per-request context (viewer, loaders, ...). Errors thrown here become GraphQL errors. */
  context: (input: { req: IncomingMessage; requestId: string }) => Promise<C>;
}

export interface HttpServiceOptions<C extends ApolloBaseContext> {
  /** Service name, used in logs. */
  name: string;
  host: string;
  /** TCP port; 0 picks a free port (tests). */
  port: number;
  logger: Logger;
  /** Serves GraphQL at {@link GRAPHQL_PATH} when given. */
  graphql?: GraphQLEndpoint<C>;
  /** Dependencies probed by `GET /health/ready`, by name (e.g. `database`, `redis`). */
  readinessChecks: Record<string, ReadinessCheck>;
  routes?: RouteHandler;
  /** Maximum accepted request body; larger bodies get 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Per-check timeout of the readiness probe. Default 2 seconds. */
  readinessTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open. Default 65 s: longer than the idle timeout of the
   * gateway's agent and common load balancers (60 s), so the server never closes a socket a client is
   * about to reuse (which would surface as ECONNRESET on the client).
   */
  keepAliveTimeoutMs?: number;
  /** How long `stop()` lets in-flight requests finish before cutting connections. Default 10 s. */
  shutdownGraceMs?: number;
  /**
   * The service's metrics, where its modules also register business metrics. Default: a new set labelled
   * with `name`. Pass one per service, never one shared by several (see `createServiceMetrics`).
   */
  metrics?: ServiceMetrics;
  /** Whether and how `/metrics` is served. Default: METRICS_ENABLED and METRICS_TOKEN from the environment. */
  metricsEndpoint?: MetricsEndpointSettings;
  /**
   * Receives the underlying `http.Server` before it listens, for what plain request handlers cannot do (the
   * gateway attaches its graphql-ws WebSocket server to `upgrade` events). Close what you attach before `stop()`:
   * upgraded sockets count as open connections and would hold the drain until the grace period ends.
   */
  onServer?: (server: Server) => void;
  /**
   * The gateway↔subgraph shared secret (SUBGRAPH_SECRET). When set, every request except `/health/live` and
   * `/health/ready` must carry it in {@link SUBGRAPH_SECRET_HEADER}, else 403 `SUBGRAPH_SECRET_REQUIRED`: GraphQL
   * (so `_service { sdl }` too), the routes, and `/metrics` (which also accepts its METRICS_TOKEN, for Prometheus).
   * Only such requests have their X-Forwarded-For believed (`clientInfoFrom`). `startSubgraph` always sets it;
   * leave it unset only for the gateway itself and for tests of routes.
   */
  subgraphSecret?: string;
}

export interface HttpService {
  /** Base URL, e.g. `http://127.0.0.1:4001` (GraphQL is at `${url}/graphql`). */
  url: string;
  port: number;
  /** Stops accepting connections, drains in-flight requests (bounded by the grace period), stops Apollo. */
  stop(): Promise<void>;
}

export const GRAPHQL_PATH = '/graphql';
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** The `method` label: anything else counts as `OTHER`, so odd methods cannot grow the series count. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

class PayloadTooLargeError extends Error {}
class InvalidJsonError extends Error {}

/**
 * A JSON answer that is never cached or content-sniffed: what every plain HTTP route (health, REST routes of the
 * subgraphs) sends. `head` answers a HEAD request (headers only).
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  head = false,
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(head ? undefined : payload);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const body = await readBodyUpTo(req, limit);
  if (body === null) throw new PayloadTooLargeError();
  return body;
}

function toHeaderMap(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    // HeaderMap lower-cases keys; Node already joins most repeated headers, set-cookie stays an array.
    headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

async function runReadinessChecks(
  checks: Record<string, ReadinessCheck>,
  timeoutMs: number,
  logger: Logger,
): Promise<{ ready: boolean; checks: Record<string, 'ok' | 'failed' | 'timeout'> }> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        const outcome = await Promise.race([check().then(() => 'ok' as const), timeout]);
        if (outcome === 'timeout') logger.warn({ check: name, timeoutMs }, 'Readiness check timed out');
        return [name, outcome] as const;
      } catch (err) {
        // The reason goes to the log only: probes are often reachable from outside the trust boundary.
        logger.warn({ check: name, err }, 'Readiness check failed');
        return [name, 'failed'] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every(([, outcome]) => outcome === 'ok'), checks: Object.fromEntries(results) };
}

/** The `route` label of a request served by `routes`: its first path segment (a bounded set: the routes'). */
function routeLabel(path: string): string {
  const segment = /^\/[A-Za-z0-9._-]{1,40}/.exec(path)?.[0];
  return segment ?? '/other';
}

/**
 * Adds `extensions.traceId` to an error response Apollo produced outside its request pipeline (a context that
 * failed to build, e.g. a 401; a CSRF refusal), where {@link observabilityPlugin} does not run. Rare, so
 * parsing the body again costs nothing that matters.
 */
function withTraceId(body: string, traceId: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      !Array.isArray((parsed as { errors?: unknown }).errors)
    ) {
      return body;
    }
    const result = parsed as { extensions?: Record<string, unknown> };
    if (result.extensions?.traceId !== undefined) return body;
    result.extensions = { ...result.extensions, traceId };
    return JSON.stringify(result);
  } catch {
    return body;
  }
}

/**
 * Starts a plain `node:http` server with health probes, an optional GraphQL endpoint and optional extra
 * routes. Plain `node:http` rather than express: middleware stacks cost ~25 % throughput (PERFORMANCE.md).
 *
 * Routes: `GET /health/live` → 200 `{status:'ok'}` while the process serves requests;
 * `GET /health/ready` → 200 or 503 with `{status, checks: {name: 'ok'|'failed'|'timeout'}}` (503 also while
 * shutting down); `/graphql` (GET and POST); `routes`; otherwise 404 JSON.
 * `GET /metrics` (Prometheus; unless disabled, and behind a bearer token when one is configured).
 * With `subgraphSecret`, everything but the health probes needs the gateway's secret (403 SUBGRAPH_SECRET_REQUIRED).
 * Every response carries `x-request-id` (the caller's, when it is a safe token, else a fresh UUID) and the trace
 * (`x-trace-id`, `traceresponse`): a valid W3C `traceparent` is continued, a missing or invalid one replaced by
 * a new trace. Everything done for the request runs in its trace context, so every log line carries `traceId`
 * and `spanId`, and `setTraceHeaders` propagates the trace to downstream calls.
 * Every request is counted and timed by method, route and status; GraphQL operations by the kit's plugin.
 */
export async function startHttpService<C extends ApolloBaseContext>(
  options: HttpServiceOptions<C>,
): Promise<HttpService> {
  const { logger, graphql, readinessChecks, routes } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const readinessTimeoutMs = options.readinessTimeoutMs ?? 2000;
  const shutdownGraceMs = options.shutdownGraceMs ?? 10_000;
  let stopping = false;
  const metrics = options.metrics ?? createServiceMetrics({ service: options.name, logger });
  const metricsEndpoint = options.metricsEndpoint ?? metricsSettingsFromEnv();
  const { subgraphSecret } = options;
  // The gateway's secret stands in for the metrics token: it already proves the caller is the gateway's side.
  const gatewayMetricsEndpoint: MetricsEndpointSettings = { enabled: metricsEndpoint.enabled };

  if (graphql) {
    // Before start(): Apollo takes plugins only until then.
    graphql.server.addPlugin(observabilityPlugin<C>(metrics));
    await graphql.server.start();
  }

  async function handleGraphQL(
    endpoint: GraphQLEndpoint<C>,
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    search: string,
    traceId: string,
  ): Promise<void> {
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, maxBodyBytes);
      // Non-JSON bodies are left undefined: Apollo answers them with a precise 400 (and CSRF prevention).
      if (isJsonContentType(req.headers['content-type']) && raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new InvalidJsonError();
        }
      }
    }

    const response = await endpoint.server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers: toHeaderMap(req), search, body },
      context: () => endpoint.context({ req, requestId }),
    });

    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      const body = res.statusCode >= 400 ? withTraceId(response.body.string, traceId) : response.body.string;
      res.setHeader('content-length', Buffer.byteLength(body));
      res.end(body);
      return;
    }
    // Incremental delivery (@defer): stream chunks as Apollo produces them.
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = requestIdFrom(req.headers);
    const trace = traceContextFrom(req.headers);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.setHeader(TRACE_ID_HEADER, trace.traceId);
    res.setHeader(TRACERESPONSE_HEADER, formatTraceparent(trace));
    const method = req.method ?? 'GET';
    // Bounded labels only: a fixed route name, never the raw path (clients choose paths).
    const labels = {
      method: KNOWN_METHODS.has(method) ? method : 'OTHER',
      route: 'unmatched',
      status_code: '',
    };
    res.once('finish', () => {
      labels.status_code = String(res.statusCode);
      metrics.http.requests.inc(labels);
      metrics.http.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    await runWithTraceContext(trace, () =>
      runWithLogContext({ traceId: trace.traceId, spanId: trace.spanId }, () =>
        dispatch(req, res, requestId, trace.traceId, labels),
      ),
    );
  }

  async function dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    traceId: string,
    labels: { route: string },
  ): Promise<void> {
    // While draining, ask keep-alive clients to reconnect (to another instance) after this response.
    if (stopping) res.setHeader('connection', 'close');
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    const search = queryStart === -1 ? '' : rawUrl.slice(queryStart);
    const isRead = req.method === 'GET' || req.method === 'HEAD';
    const head = req.method === 'HEAD';

    try {
      if (path === '/health/live' || path === '/health/ready' || path === METRICS_PATH) labels.route = path;
      if (path === '/health/live') {
        if (!isRead) return sendJson(res, 405, { error: 'Method not allowed' }, { allow: 'GET, HEAD' });
        return sendJson(res, 200, { status: 'ok' }, {}, head);
      }
      if (path === '/health/ready') {
        if (!isRead) return sendJson(res, 405, { error: 'Method not allowed' }, { allow: 'GET, HEAD' });
        if (stopping) return sendJson(res, 503, { status: 'stopping', checks: {} }, {}, head);
        const result = await runReadinessChecks(readinessChecks, readinessTimeoutMs, logger);
        return sendJson(
          res,
          result.ready ? 200 : 503,
          { status: result.ready ? 'ok' : 'unavailable', checks: result.checks },
          {},
          head,
        );
      }
      const fromGateway = subgraphSecret !== undefined && authenticateGatewayRequest(req, subgraphSecret);
      if (subgraphSecret !== undefined && !fromGateway) {
        // Without the secret only Prometheus, with the metrics token, gets anything (serveMetrics checks it).
        const tokenScrape = path === METRICS_PATH && metricsEndpoint.enabled && metricsEndpoint.token;
        if (!tokenScrape) {
          labels.route = path === METRICS_PATH || path === GRAPHQL_PATH ? path : 'unmatched';
          req.resume();
          return sendJson(res, 403, {
            error: SUBGRAPH_SECRET_REQUIRED,
            message: `This service answers the gateway only (${SUBGRAPH_SECRET_HEADER})`,
          });
        }
      }
      if (
        path === METRICS_PATH &&
        (await serveMetrics(req, res, metrics, fromGateway ? gatewayMetricsEndpoint : metricsEndpoint))
      ) {
        return;
      }
      if (graphql && path === GRAPHQL_PATH) {
        labels.route = GRAPHQL_PATH;
        return await handleGraphQL(graphql, req, res, requestId, search, traceId);
      }
      if (routes) {
        labels.route = routeLabel(path);
        if (await routes(req, res, requestId)) return;
      }
      labels.route = 'unmatched';
      return sendJson(res, 404, { error: 'Not found' });
    } catch (err) {
      if (err instanceof PayloadTooLargeError) {
        // Close the connection: the rest of the oversized body is not worth reading.
        return sendJson(res, 413, { error: 'Request body too large' }, { connection: 'close' });
      }
      if (err instanceof InvalidJsonError) return sendJson(res, 400, { error: 'Malformed JSON body' });
      logger.error({ err, requestId, path }, 'Unhandled error while serving an HTTP request');
      if (!res.headersSent) return sendJson(res, 500, { error: 'Internal server error' });
      res.destroy();
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
  // Must exceed keepAliveTimeout, or Node may drop a reused socket before its next request's headers arrive.
  server.headersTimeout = server.keepAliveTimeout + 1000;
  server.requestTimeout = 30_000;
  options.onServer?.(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${hostForUrl}:${port}`;
  const metricsAccess = metricsEndpoint.enabled ? (metricsEndpoint.token ? 'token' : 'open') : 'disabled';
  logger.info({ url, metrics: metricsAccess }, `${options.name} listening`);

  let stopped: Promise<void> | undefined;
  async function stop(): Promise<void> {
    stopping = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Idle keep-alive sockets would otherwise hold close() open until they time out.
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), shutdownGraceMs);
      timer.unref();
    });
    if ((await Promise.race([closed, grace])) === 'timeout') {
      logger.warn({ shutdownGraceMs }, `${options.name}: grace period over, closing open connections`);
      server.closeAllConnections();
      await closed;
    }
    clearTimeout(timer);
    if (graphql) await graphql.server.stop();
    logger.info(`${options.name} stopped`);
  }

  return {
    url,
    port,
    stop: () => (stopped ??= stop()),
  };
}
