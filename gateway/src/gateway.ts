import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import {
  ApolloGateway,
  RemoteGraphQLDataSource,
  type GraphQLDataSourceProcessOptions,
} from '@apollo/gateway';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginDisableSuggestions } from '@apollo/server/plugin/disableSuggestions';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ErrorCode, formatGraphQLError, isErrorCode, ServiceUnavailableError } from '@gatehouse/errors';
import { REQUEST_ID_HEADER, type Logger } from '@gatehouse/logger';
import { GraphQLError } from 'graphql';
import fetch from 'node-fetch';
import { SUBGRAPHS, type SubgraphName } from './subgraphs';
import { playgroundLandingPagePlugin } from './playground';

/** What the gateway keeps from an incoming request: only what it forwards to subgraphs. */
export interface GatewayContext {
  /** The request's id, forwarded as `x-request-id` so one id follows the request through every service. */
  readonly requestId: string;
  /** The incoming `Authorization` header, forwarded verbatim; subgraphs verify the token themselves. */
  readonly authorization?: string;
  /** The client's `User-Agent`, forwarded so identity records the device of a session, not the gateway's. */
  readonly userAgent?: string;
  /**
   * The address the request came from, sent to subgraphs as the only `X-Forwarded-For` entry. A client's own
   * `X-Forwarded-For` is dropped: it is whatever the client wants it to be. (Behind a trusted load balancer the
   * gateway would have to read that balancer's header instead; that is a deployment setting still to come.)
   */
  readonly clientIp?: string;
}

/** Builds the per-request context; the service kit's `graphql.context`. */
export async function gatewayContext(input: {
  req: IncomingMessage;
  requestId: string;
}): Promise<GatewayContext> {
  const { requestId, req } = input;
  const { authorization, 'user-agent': userAgent } = req.headers;
  const clientIp = req.socket.remoteAddress?.replace(/^::ffff:/, '');
  return {
    requestId,
    ...(authorization === undefined ? {} : { authorization }),
    ...(userAgent === undefined ? {} : { userAgent }),
    ...(clientIp === undefined ? {} : { clientIp }),
  };
}

type Fetcher = RemoteGraphQLDataSource['fetcher'];
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

export type SubgraphUrls = Readonly<Record<SubgraphName, string>>;

export interface CreateGatewayOptions {
  /** Composed supergraph SDL (gateway/supergraph.graphql). */
  readonly supergraphSdl: string;
  /** GraphQL endpoint of each subgraph; overrides the routing URLs baked into the supergraph. */
  readonly subgraphUrls: SubgraphUrls;
  readonly logger: Logger;
  /** Production turns off introspection and field suggestions. */
  readonly production: boolean;
  /** Sends browsers that open `/graphql` on to the playground (served by `createPlaygroundHandler`). */
  readonly playground?: boolean;
  /** Upper bound for one subgraph request, response body included. Default 30 s. */
  readonly subgraphTimeoutMs?: number;
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
  ) {
    super({ url, fetcher });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    // Health checks and schema loading run without an incoming request, so the context can be empty.
    const { requestId, authorization, userAgent, clientIp } = context as Partial<GatewayContext>;
    const headers = request.http?.headers;
    if (!headers) return;
    if (requestId) headers.set(REQUEST_ID_HEADER, requestId);
    if (authorization) headers.set('authorization', authorization);
    if (userAgent) headers.set('user-agent', userAgent);
    if (clientIp) headers.set('x-forwarded-for', clientIp);
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
      return new SubgraphDataSource(name, subgraphUrls[name as SubgraphName], fetcher, logger);
    },
  });

  const server = new ApolloServer<GatewayContext>({
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
    ],
  });

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
