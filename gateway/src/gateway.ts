import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import {
  ApolloGateway,
  RemoteGraphQLDataSource,
  type GraphQLDataSourceProcessOptions,
} from '@apollo/gateway';
import { ApolloServer, HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import { ApolloServerPluginDisableSuggestions } from '@apollo/server/plugin/disableSuggestions';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ErrorCode, formatGraphQLError, isErrorCode, ServiceUnavailableError } from '@gatehouse/errors';
import { REQUEST_ID_HEADER, type Logger } from '@gatehouse/logger';
import { setTraceHeaders, SUBGRAPH_SECRET_HEADER, type Viewer } from '@gatehouse/service';
import { GraphQLError } from 'graphql';
import fetch from 'node-fetch';
import { createGraphQLOverHttpStatus, type GraphQLOverHttpStatus } from './graphql-over-http';
import { SUBGRAPHS, type SubgraphName } from './subgraphs';
import { playgroundLandingPagePlugin } from './playground';
import { publicIntrospectionPlugin, subscriptionOverHttpRefusal } from './public-introspection';
import type { GatewayAuthenticator } from './protection/authentication';
import { peerAddressOf, type ClientAddressResolver } from './protection/client-address';
import { csrfRefused, requestTimedOut } from './protection/errors';
import { readCookie, type HttpEdge } from './protection/http-edge';
import {
  createGraphQLGuard,
  type GraphQLGuard,
  type ProtectionPluginOptions,
} from './protection/protection-plugin';

/** identity's COMPLETION_COOKIE (subgraphs/identity/src/oauth/oauth.service.ts). */
const OAUTH_COMPLETION_COOKIE = 'gatehouse_oauth_result';

/** What the gateway keeps from an incoming request: only what it forwards to subgraphs. */
export interface GatewayContext {
  /** The request's id, forwarded as `x-request-id` so one id follows the request through every service. */
  readonly requestId: string;
  /** The incoming `Authorization` header, forwarded verbatim; subgraphs verify the token themselves. */
  readonly authorization?: string;
  /** The client's `User-Agent`, forwarded so identity records the device of a session, not the gateway's. */
  readonly userAgent?: string;
  /**
   * The client's canonical address (protection/client-address.ts): the TCP peer, or behind proxies trusted by
   * TRUST_PROXY the address they vouch for in `X-Forwarded-For`. Sent to subgraphs as the only
   * `X-Forwarded-For` entry; whatever else the client put in that header is dropped.
   */
  readonly clientIp?: string;
  /**
   * Identity's OAuth completion cookie (`gatehouse_oauth_result`, set by a REST-started flow's callback), forwarded
   * to identity alone: `completeOAuthLogin` redeems such a flow's code only in the browser that started it.
   */
  readonly oauthCompletion?: string;
  /** The verified token's viewer (when the gateway authenticates); keys the per-user rate limit. */
  readonly viewer?: Viewer;
  /** Whether identity recorded the viewer's session as revoked; awaited before anything is executed. */
  readonly sessionRevoked?: Promise<boolean>;
}

/**
 * Builds the per-request context; the service kit's `graphql.context`. With an `authenticator` a bad, expired or
 * foreign token is refused here with 401, before any subgraph is called; the Authorization header is still
 * forwarded, because every subgraph verifies it again (defence in depth). Only the headers named in
 * GatewayContext ever reach a subgraph: a client's own `x-gatehouse-*`, `x-user-*` or `x-forwarded-*` headers
 * are never copied (SubgraphDataSource builds each subgraph request's headers from scratch).
 */
export function createGatewayContext(
  options: { authenticator?: GatewayAuthenticator; clientAddress?: ClientAddressResolver } = {},
) {
  const { authenticator, clientAddress = peerAddressOf } = options;
  return async (input: { req: IncomingMessage; requestId: string }): Promise<GatewayContext> => {
    const { requestId, req } = input;
    const { authorization, 'user-agent': userAgent } = req.headers;
    const clientIp = clientAddress(req);
    const cookie = readCookie(req.headers.cookie, OAUTH_COMPLETION_COOKIE);
    // Only a well-formed value (generateToken(32)) crosses; identity compares its hash in constant time.
    const oauthCompletion = cookie && /^[A-Za-z0-9_-]{43}$/.test(cookie) ? cookie : undefined;
    const viewer = authenticator ? await authenticator.authenticate(authorization) : undefined;
    return {
      requestId,
      ...(oauthCompletion === undefined ? {} : { oauthCompletion }),
      ...(authorization === undefined ? {} : { authorization }),
      ...(userAgent === undefined ? {} : { userAgent }),
      ...(clientIp === undefined ? {} : { clientIp }),
      ...(viewer === undefined ? {} : { viewer, sessionRevoked: authenticator!.isRevoked(viewer) }),
    };
  };
}

/** The context without authentication at the gateway (subgraphs verify tokens). */
export const gatewayContext = createGatewayContext();

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

export type SubgraphUrls = Readonly<Record<SubgraphName, string>>;

export interface CreateGatewayOptions {
  /** Composed supergraph SDL (gateway/supergraph.graphql). */
  readonly supergraphSdl: string;
  /** GraphQL endpoint of each subgraph; overrides the routing URLs baked into the supergraph. */
  readonly subgraphUrls: SubgraphUrls;
  /** SUBGRAPH_SECRET: sent on every subgraph request; subgraphs answer nothing else (health probes aside). */
  readonly subgraphSecret: string;
  readonly logger: Logger;
  /** Production turns off introspection and field suggestions. */
  readonly production: boolean;
  /** Sends browsers that open `/graphql` on to the playground (served by `createPlaygroundHandler`). */
  readonly playground?: boolean;
  /** Upper bound for one subgraph request, response body included. Default 30 s. */
  readonly subgraphTimeoutMs?: number;
  /** Query limits, rate limits and trusted documents (see protectionPlugin); absent: none of them. */
  readonly protection?: ProtectionPluginOptions;
  /** Security headers, CORS and CSRF for `/graphql`; absent: none. */
  readonly edge?: HttpEdge;
  /** Upper bound for one whole GraphQL request; past it the client gets 503 (REQUEST_TIMEOUT). */
  readonly requestTimeoutMs?: number;
}

export interface Gateway {
  /** Apollo Server over the gateway; hand it to the service kit, which starts and stops it. */
  readonly server: ApolloServer<GatewayContext>;
  /** Closes the idle keep-alive sockets to subgraphs. Call after the server stopped. */
  close(): void;
}

/**
 * Keep-alive agents shared by all subgraph requests. node-fetch 2 over a keep-alive agent (256 sockets, LIFO so
 * the warmest socket is reused) was the fastest subgraph client measured: the default fetcher reached 0.56x and
 * Node's global fetch 0.59x of its throughput (PERFORMANCE.md).
 */
function createAgents() {
  const options = { keepAlive: true, maxSockets: 256, scheduling: 'lifo' } as const;
  const httpAgent = new http.Agent(options);
  const httpsAgent = new https.Agent(options);
  return {
    agentFor: (url: URL) => (url.protocol === 'https:' ? httpsAgent : httpAgent),
    destroy: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    private readonly subgraphName: string,
    url: string,
    fetcher: Fetcher,
    private readonly logger: Logger,
    private readonly subgraphSecret: string,
  ) {
    super({ url, fetcher });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    // Health checks and schema loading run without an incoming request, so the context can be empty.
    const { requestId, authorization, userAgent, clientIp, oauthCompletion } =
      context as Partial<GatewayContext>;
    const headers = request.http?.headers;
    if (!headers) return;
    headers.set(SUBGRAPH_SECRET_HEADER, this.subgraphSecret);
    if (requestId) headers.set(REQUEST_ID_HEADER, requestId);
    // The request's trace continues in the subgraph (W3C traceparent).
    setTraceHeaders(headers);
    if (authorization) headers.set('authorization', authorization);
    if (userAgent) headers.set('user-agent', userAgent);
    if (clientIp) headers.set('x-forwarded-for', clientIp);
    // The one cookie any subgraph gets, and only identity (see GatewayContext.oauthCompletion).
    if (oauthCompletion && this.subgraphName === 'identity') {
      headers.set('cookie', `${OAUTH_COMPLETION_COOKIE}=${oauthCompletion}`);
    }
  }

  /**
   * A subgraph that answers non-2xx refused the request (401 for a bad token, 403, 429) or failed. A refusal
   * carrying one of our error codes is passed on with the subgraph's (client-safe) message; a 401 also keeps its
   * status and WWW-Authenticate header, because authentication fails the whole request. The default would leak
   * the subgraph's URL and response body in `extensions.response`.
   */
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    const body: unknown = await this.parseBody(response).catch(() => undefined);
    const refusal = firstCodedError(body);
    const { status } = response;
    if (status === 401) {
      const headers = new HeaderMap();
      const challenge = response.headers.get('www-authenticate');
      if (challenge) headers.set('www-authenticate', challenge);
      return new SubgraphRefusal(refusal?.message ?? 'Authentication required', {
        extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status, headers } },
      });
    }
    if (status < 500 && refusal) {
      return new SubgraphRefusal(refusal.message, { extensions: { code: refusal.code } });
    }
    return new GraphQLError(`${this.subgraphName} answered HTTP ${status}`, { extensions: { status } });
  }

  /**
   * Anything else — connection refused, timeout, 5xx, a body that is not JSON — becomes SERVICE_UNAVAILABLE naming
   * the subgraph, not an anonymous internal error, and is logged with the cause.
   */
  override didEncounterError(error: Error): never {
    if (error instanceof SubgraphRefusal) throw error;
    this.logger.warn({ err: error, subgraph: this.subgraphName }, 'Subgraph request failed');
    throw new ServiceUnavailableError(`The ${this.subgraphName} service is unavailable`, { cause: error });
  }
}

/** A subgraph's deliberate, client-safe refusal, passed on as is. */
class SubgraphRefusal extends GraphQLError {}

/** The first error of a GraphQL response body, when it carries one of our stable error codes. */
function firstCodedError(body: unknown): { message: string; code: ErrorCode } | undefined {
  const first: unknown = (body as { errors?: unknown[] } | undefined)?.errors?.[0];
  if (typeof first !== 'object' || first === null) return undefined;
  const { message, extensions } = first as { message?: unknown; extensions?: { code?: unknown } };
  const code = extensions?.code;
  if (typeof message !== 'string' || typeof code !== 'string' || !isErrorCode(code)) return undefined;
  return { message, code };
}

/** A finished JSON answer outside Apollo's pipeline (preflight, timeout, CSRF refusal). */
function jsonResponse(status: number, body: string, headers: Iterable<readonly [string, string]> = []) {
  const map = new HeaderMap([...headers].map(([k, v]) => [k, v] as [string, string]));
  if (body !== '' && !map.has('content-type')) map.set('content-type', 'application/json; charset=utf-8');
  return { status, headers: map, body: { kind: 'complete' as const, string: body } };
}

function errorBody(error: GraphQLError): string {
  const { http: _http, ...extensions } = error.extensions;
  return JSON.stringify({ errors: [{ message: error.message, extensions }] });
}

/**
 * Apollo Server with the HTTP edge of `/graphql` around it: the service kit hands every `/graphql` request to
 * `executeHTTPGraphQLRequest`, so this is the one place that sees them all (preflight included) and can put
 * security and CORS headers on every answer, errors too, bound the request's time, and apply the GraphQL-over-HTTP
 * status rule of `application/json` answers (graphql-over-http.ts).
 */
class ProtectedApolloServer extends ApolloServer<GatewayContext> {
  private readonly edge: HttpEdge | undefined;
  private readonly guard: GraphQLGuard<GatewayContext> | undefined;
  private readonly requestTimeoutMs: number | undefined;
  private readonly status: GraphQLOverHttpStatus<GatewayContext>;

  constructor(
    protection: { edge?: HttpEdge; guard?: GraphQLGuard<GatewayContext>; requestTimeoutMs?: number },
    config: ConstructorParameters<typeof ApolloServer<GatewayContext>>[0],
    status: GraphQLOverHttpStatus<GatewayContext>,
  ) {
    super(config);
    this.status = status;
    this.edge = protection.edge;
    this.guard = protection.guard;
    this.requestTimeoutMs = protection.requestTimeoutMs;
  }

  override async executeHTTPGraphQLRequest(
    args: Parameters<ApolloServer<GatewayContext>['executeHTTPGraphQLRequest']>[0],
  ): Promise<HTTPGraphQLResponse> {
    const { edge } = this;
    const request = args.httpGraphQLRequest;
    const header = (name: string) => request.headers.get(name);
    let response: HTTPGraphQLResponse;
    if (edge?.isPreflight(request.method, header)) {
      const answer = edge.preflight(header('origin'));
      response = jsonResponse(answer.status, answer.body, answer.headers);
    } else {
      const refusal = edge?.csrfRefusal(request.method, '/graphql', header);
      // A subscription over HTTP is answered 400 naming the WebSocket endpoint, before Apollo would call it a
      // validation error (the HTTP schema has no Subscription root to execute it with).
      const rejected = refusal
        ? csrfRefused(refusal)
        : (subscriptionOverHttpRefusal(request) ?? this.guard?.precheck(request));
      response = rejected
        ? jsonResponse(
            (rejected.extensions.http as { status?: number } | undefined)?.status ?? 400,
            errorBody(rejected),
          )
        : this.status.apply(request, await this.withinTimeout(super.executeHTTPGraphQLRequest(args)));
    }
    if (edge) {
      for (const [name, value] of edge.securityHeaders)
        if (!response.headers.has(name)) response.headers.set(name, value);
      for (const [name, value] of edge.corsHeaders(header('origin'))) response.headers.set(name, value);
    }
    return response;
  }

  private withinTimeout(pending: Promise<HTTPGraphQLResponse>): Promise<HTTPGraphQLResponse> {
    const timeoutMs = this.requestTimeoutMs;
    if (!timeoutMs) return pending;
    let timer: NodeJS.Timeout | undefined;
    // The abandoned execution finishes in the background; each subgraph call has its own timeout.
    const timeout = new Promise<HTTPGraphQLResponse>((resolve) => {
      timer = setTimeout(() => resolve(jsonResponse(503, errorBody(requestTimedOut()))), timeoutMs);
    });
    return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * Creates the federation gateway and the Apollo Server that serves it. Nothing is started here; the service kit
 * starts the server (which loads the supergraph and builds query plans lazily).
 */
export function createGateway(options: CreateGatewayOptions): Gateway {
  const { logger, production, subgraphUrls } = options;
  const agents = createAgents();
  const timeout = options.subgraphTimeoutMs ?? 30_000;
  const fetcher: Fetcher = (url, init) =>
    fetch(url, { ...init, agent: (parsed: URL) => agents.agentFor(parsed), timeout });
  const known = new Set<string>(SUBGRAPHS.map((s) => s.name));

  const gateway = new ApolloGateway({
    supergraphSdl: options.supergraphSdl,
    logger,
    buildService: ({ name }) => {
      // A supergraph naming a subgraph we have no URL for means gateway and supergraph are out of step: fail the
      // start rather than silently routing to the default URL baked into the supergraph.
      if (!known.has(name)) {
        throw new Error(`The supergraph names subgraph "${name}", which has no configured URL`);
      }
      return new SubgraphDataSource(
        name,
        subgraphUrls[name as SubgraphName],
        fetcher,
        logger,
        options.subgraphSecret,
      );
    },
  });

  const guard = options.protection ? createGraphQLGuard<GatewayContext>(options.protection) : undefined;
  const status = createGraphQLOverHttpStatus<GatewayContext>();
  const server = new ProtectedApolloServer(
    {
      ...(guard ? { guard } : {}),
      ...(options.edge ? { edge: options.edge } : {}),
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    },
    {
      gateway,
      formatError: (formatted, error) => formatGraphQLError(formatted, error, { logger }),
      includeStacktraceInErrorResponses: false,
      introspection: !production,
      csrfPrevention: true,
      // Signals are handled by main(), which stops HTTP first and then Apollo.
      stopOnTerminationSignals: false,
      logger,
      plugins: [
        // Never Apollo's landing page: it loads Apollo Sandbox from a CDN. Ours is the offline /playground.
        ApolloServerPluginLandingPageDisabled(),
        ...(options.playground ? [playgroundLandingPagePlugin()] : []),
        // Without introspection, "Did you mean ...?" suggestions would still leak the schema field by field.
        ...(production ? [ApolloServerPluginDisableSuggestions()] : []),
        // Introspection (development only) shows the realtime Subscription type served over graphql-ws.
        ...(production ? [] : [publicIntrospectionPlugin<GatewayContext>()]),
        ...(guard ? [guard.plugin] : []),
        status.plugin,
      ],
    },
    status,
  );

  return { server, close: agents.destroy };
}

/**
 * One readiness check per subgraph (`subgraph:identity`, ...), for the service kit's `readinessChecks`: each asks
 * the subgraph's `/health/ready` and fails unless it answers 200 within `timeoutMs` (default 2 s). The kit runs
 * them in parallel. The gateway is ready only when every subgraph is: a query plan may touch any of them.
 */
export function subgraphReadinessChecks(
  subgraphUrls: SubgraphUrls,
  timeoutMs = 2_000,
): Record<string, () => Promise<void>> {
  return Object.fromEntries(
    SUBGRAPHS.map(({ name }) => {
      const url = new URL('/health/ready', subgraphUrls[name]);
      const check = async (): Promise<void> => {
        const response = await globalThis.fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        await response.body?.cancel();
        if (response.status !== 200) throw new Error(`${url.href} answered HTTP ${response.status}`);
      };
      return [`subgraph:${name}`, check];
    }),
  );
}
