import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '@gatehouse/events';
import type { Logger } from '@gatehouse/logger';
import {
  createServiceMetrics,
  sendJson,
  startHttpService,
  type HttpService,
  type MetricsEndpointSettings,
  type ServiceMetrics,
} from '@gatehouse/service';
import { createGateway, createGatewayContext, subgraphReadinessChecks, type SubgraphUrls } from './gateway';
import { createPlaygroundHandler } from './playground';
import type { GatewayAuthenticator } from './protection/authentication';
import { peerAddressOf, rateLimitSubjectOf, type ClientAddressResolver } from './protection/client-address';
import type { HttpEdge } from './protection/http-edge';
import type { ProtectionPluginOptions } from './protection/protection-plugin';
import type { SlidingWindowLimiter } from './protection/sliding-window';
import { createRealtimeServer, type RealtimeServer, type RealtimeServerOptions } from './realtime';
import { createRestProxy, findRestRoute, type RestRoute } from './rest-proxy';
import type { UsageRecorder } from './usage-recorder';
import { createWellKnownHandler, type WellKnownOptions } from './well-known';

/** Everything the gateway does to protect itself and the subgraphs; each part is optional (tests pick). */
export interface GatewayProtection {
  /** Verifies bearer tokens (and recorded session revocations) before any subgraph is called. */
  readonly authenticator?: GatewayAuthenticator;
  /** Query limits, GraphQL rate limits, trusted documents. */
  readonly graphql?: ProtectionPluginOptions;
  /** Security headers, CORS, CSRF double-submit on every route. */
  readonly edge?: HttpEdge;
  /** Per-IP limit on the proxied REST routes (one check per request). */
  readonly restRateLimit?: {
    readonly limiter: SlidingWindowLimiter;
    readonly perIp: number;
    readonly windowSeconds: number;
  };
  /** Largest GraphQL request body (413 above); default the service kit's 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Upper bound for one GraphQL request (503 REQUEST_TIMEOUT after it). */
  readonly requestTimeoutMs?: number;
  /**
   * Who the client is (TRUST_PROXY): keys every per-IP limit and is the `X-Forwarded-For` subgraphs get.
   * Default: the TCP peer.
   */
  readonly clientAddress?: ClientAddressResolver;
}

export interface StartGatewayOptions {
  readonly supergraphSdl: string;
  readonly subgraphUrls: SubgraphUrls;
  /** SUBGRAPH_SECRET: sent on every request to a subgraph (GraphQL and proxied REST routes). */
  readonly subgraphSecret: string;
  readonly logger: Logger;
  readonly production: boolean;
  /** Serve the offline GraphiQL at /playground. */
  readonly playground: boolean;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Serve `/.well-known/jwks.json` and `/.well-known/openid-configuration` for these keys. */
  readonly wellKnown?: WellKnownOptions;
  /** main() always passes the configured protection; tests of other features may leave it out. */
  readonly protection?: GatewayProtection;
  /** The gateway's Prometheus metrics (served at `/metrics`); default: a registry of its own. */
  readonly metrics?: ServiceMetrics;
  /** Whether and how `/metrics` is served; default: METRICS_ENABLED / METRICS_TOKEN from the environment. */
  readonly metricsEndpoint?: MetricsEndpointSettings;
  /**
   * graphql-ws subscriptions on `/graphql` (WebSocket upgrade), fed by the services' event bus
   * (docs/realtime.md). Needs an authenticator: `authenticator` here, else the protection's; without either,
   * no WebSocket is served (a warning is logged).
   */
  readonly realtime?: {
    readonly events: EventBus;
    readonly authenticator?: GatewayAuthenticator;
  } & Partial<
    Pick<
      RealtimeServerOptions,
      'maxSubscriptionsPerConnection' | 'maxConnectionsPerIp' | 'maxPayloadBytes' | 'connectionInitTimeoutMs'
    >
  >;
  /** Counts every GraphQL operation for the admin API's usage metrics; stopped (last flush) with the gateway. */
  readonly usage?: UsageRecorder;
}

type Route = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<boolean>;

/** Counts every request to a proxied REST route against the client's address before proxying it. */
function rateLimitedRest(
  proxy: Route,
  routes: readonly RestRoute[],
  limit: NonNullable<GatewayProtection['restRateLimit']>,
  clientAddress: ClientAddressResolver,
): Route {
  return async (req, res, requestId) => {
    // On the normalised path, as the proxy matches; a path the proxy refuses (null) goes straight to its 400.
    const found = findRestRoute(routes, req.url ?? '/');
    if (found === null) return proxy(req, res, requestId);
    if (!found.route) return false;
    const ip = clientAddress(req);
    if (ip) {
      const decision = await limit.limiter.consume([
        { key: `rest:ip:${rateLimitSubjectOf(ip)}`, limit: limit.perIp, windowSeconds: limit.windowSeconds },
      ]);
      if (!decision.allowed) {
        req.resume();
        sendJson(
          res,
          429,
          { error: 'RATE_LIMITED', retryAfterSeconds: decision.retryAfterSeconds },
          { 'retry-after': String(decision.retryAfterSeconds) },
        );
        return true;
      }
    }
    return proxy(req, res, requestId);
  };
}

/**
 * Starts the gateway's HTTP service: `/graphql` (federated), `/playground` (when enabled), `/.well-known/*`
 * (when `wellKnown` is given), `/auth/csrf` (with an edge), the proxied REST routes, `/health/live` and
 * `/health/ready` (ready when every subgraph is). Resolves once the supergraph is loaded and the port is bound.
 */
export async function startGateway(options: StartGatewayOptions): Promise<HttpService> {
  const { logger, protection = {}, usage, ...gatewayOptions } = options;
  const { server, close } = createGateway({
    ...gatewayOptions,
    logger,
    ...(protection.graphql ? { protection: protection.graphql } : {}),
    ...(protection.edge ? { edge: protection.edge } : {}),
    ...(protection.requestTimeoutMs ? { requestTimeoutMs: protection.requestTimeoutMs } : {}),
  });
  if (usage) server.addPlugin(usage.plugin);
  const playground = options.playground ? createPlaygroundHandler() : undefined;
  const wellKnown = options.wellKnown ? createWellKnownHandler(options.wellKnown) : undefined;
  // Browsers reach the subgraphs' plain HTTP routes through the gateway, the one public door.
  const identity = new URL(options.subgraphUrls.identity).origin;
  const account = new URL(options.subgraphUrls.account).origin;
  const restRoutes: RestRoute[] = [
    { path: '/auth/oauth/', target: identity, methods: ['GET', 'HEAD'] },
    {
      path: '/account/avatar',
      target: account,
      methods: ['PUT', 'POST', 'DELETE'],
      forwardAuthorization: true,
      // The avatar limit (5 MiB, enforced again by the account subgraph).
      maxBodyBytes: 5 * 1024 * 1024,
    },
    { path: '/unsubscribe', target: account, methods: ['GET', 'HEAD', 'POST'] },
    // Streamed audit export for administrators (the route checks the token and `audit:read` itself).
    {
      path: '/admin/audit-logs/export',
      target: new URL(options.subgraphUrls['access-control']).origin,
      methods: ['GET'],
      forwardAuthorization: true,
    },
    // Stored files of the filesystem storage driver (avatars, signed export downloads).
    { path: '/files/', target: account, methods: ['GET', 'HEAD'] },
    // Usage reports from customers' servers (API key or service token, checked by billing).
    {
      path: '/billing/usage',
      target: new URL(options.subgraphUrls.billing).origin,
      methods: ['POST'],
      forwardAuthorization: true,
      forwardHeaders: ['idempotency-key'],
      maxBodyBytes: 4 * 1024,
    },
    // Stripe's webhooks: the signature covers the raw body, which the proxy streams through unchanged.
    {
      path: '/webhooks/stripe',
      target: new URL(options.subgraphUrls.billing).origin,
      methods: ['POST'],
      forwardHeaders: ['stripe-signature'],
      maxBodyBytes: 512 * 1024,
    },
  ];
  const clientAddress = protection.clientAddress ?? peerAddressOf;
  const proxy = createRestProxy({
    logger,
    routes: restRoutes,
    subgraphSecret: options.subgraphSecret,
    clientAddress,
  });
  const rest = protection.restRateLimit
    ? rateLimitedRest(proxy, restRoutes, protection.restRateLimit, clientAddress)
    : proxy;
  const routes = [wellKnown, playground, rest].filter((route) => route !== undefined);
  const { edge } = protection;
  // Made here when not given (the kit would make the same) so the WebSocket server counts in the same registry.
  const metrics = options.metrics ?? createServiceMetrics({ service: 'gateway', logger });

  let realtime: RealtimeServer | undefined;
  let service: HttpService;
  try {
    if (options.realtime) {
      const { events, authenticator = protection.authenticator, ...limits } = options.realtime;
      if (authenticator) {
        realtime = await createRealtimeServer({
          ...limits,
          events,
          authenticator,
          clientAddress,
          logger,
          metrics,
          production: options.production,
        });
      } else {
        logger.warn('No token verification configured: WebSocket subscriptions are disabled');
      }
    }
    service = await startHttpService({
      name: 'gateway',
      host: options.host,
      port: options.port,
      logger,
      graphql: {
        server,
        context: createGatewayContext({ authenticator: protection.authenticator, clientAddress }),
      },
      readinessChecks: subgraphReadinessChecks(options.subgraphUrls),
      metrics,
      ...(realtime ? { onServer: (httpServer) => realtime?.attach(httpServer) } : {}),
      ...(options.metricsEndpoint ? { metricsEndpoint: options.metricsEndpoint } : {}),
      ...(protection.maxBodyBytes ? { maxBodyBytes: protection.maxBodyBytes } : {}),
      routes: async (req, res, requestId) => {
        // Headers first, so they are on whatever answers: a route, the proxy, or the kit's 404.
        if (edge?.handle(req, res)) return true;
        for (const route of routes) if (await route(req, res, requestId)) return true;
        return false;
      },
    });
  } catch (error) {
    await realtime?.close();
    close();
    throw error;
  }
  if (playground) logger.info({ url: `${service.url}/playground` }, 'GraphQL playground enabled');

  let stopped: Promise<void> | undefined;
  return {
    url: service.url,
    port: service.port,
    stop: () =>
      // WebSockets first: upgraded sockets would otherwise hold the HTTP drain open for its whole grace period.
      (stopped ??= Promise.resolve(realtime?.close())
        .then(() => service.stop())
        // After the drain, so the last requests are in the last batch.
        .finally(() => usage?.stop())
        .finally(() => {
          close();
        })),
  };
}
