import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EventBus, Unsubscribe } from '@gatehouse/events';
import { ErrorCode } from '@gatehouse/errors';
import type { Logger } from '@gatehouse/logger';
import { bearerTokenFrom, GRAPHQL_PATH, type ServiceMetrics, type Viewer } from '@gatehouse/service';
import { GraphQLError, type DocumentNode } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { GatewayAuthenticator } from '../protection/authentication';
import { peerAddressOf, rateLimitSubjectOf, type ClientAddressResolver } from '../protection/client-address';
import { selectedOperationDocument } from './operation-document';
import { buildRealtimeSchema, realtimeRoots, type RealtimeContext } from './schema';
import { SESSION_TOPICS, sessionEventPayload } from './topics';

/** Close reasons clients can tell apart (all with 4401: reconnect with a fresh access token, or sign in). */
export const RealtimeCloseReason = {
  UNAUTHORIZED: 'Unauthorized',
  TOKEN_EXPIRED: 'Token expired',
  SESSION_REVOKED: 'Session revoked',
} as const;

/** Why a subscription was refused (`details.reason` of its error). */
export const RealtimeRefusal = {
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
} as const;

export interface RealtimeServerOptions {
  /** The bus every service publishes on (Redis pub/sub with REDIS_URL, else the embedded in-process one). */
  events: Pick<EventBus, 'subscribe'>;
  /** The same verification as HTTP requests: signature, `iss`, `aud`, `exp`, recorded session revocations. */
  authenticator: GatewayAuthenticator;
  logger: Logger;
  /** The gateway's metrics: `gauges.websocketConnections` follows the open sockets. */
  metrics?: Pick<ServiceMetrics, 'gauges'>;
  /** Production hides internal error messages in close reasons. */
  production?: boolean;
  /** Concurrent operations per connection; more are refused with an error. Default 10. */
  maxSubscriptionsPerConnection?: number;
  /** Open sockets per client address (an IPv6 client per /64); more upgrades are answered 429. Default 20. */
  maxConnectionsPerIp?: number;
  /** Who the client is (TRUST_PROXY), as for HTTP requests; default the TCP peer. */
  clientAddress?: ClientAddressResolver;
  /** Largest message a client may send; larger ones close the socket with 1009. Default 64 KiB. */
  maxPayloadBytes?: number;
  /** How long a socket may stay open without `connection_init` (closed 4408). Default 3 s. */
  connectionInitTimeoutMs?: number;
  /** Clock for the token-expiry timer (epoch ms); tests inject one. */
  now?: () => number;
}

export interface RealtimeServer {
  /** Serves graphql-ws on `/graphql` upgrades of `server` (plain HTTP requests are untouched). */
  attach(server: Server): void;
  /** Open WebSocket connections. */
  connectionCount(): number;
  /** Closes every socket (1001 Going away) and stops listening to the bus. Idempotent. */
  close(): Promise<void>;
}

interface ConnectionState {
  /** The verified `Authorization` header, for queries through the supergraph as this user. */
  authorization: string;
  viewer: Viewer;
  expiresAt: number;
  expiryTimer: NodeJS.Timeout;
  sessionStreams: { open: number };
}

function isErrorList(value: DocumentNode | readonly GraphQLError[]): value is readonly GraphQLError[] {
  return Array.isArray(value);
}

/** setTimeout's upper bound; access tokens live minutes, this only guards against absurd `exp` values. */
const MAX_TIMER_MS = 2_147_483_647;

/** The `exp` claim (seconds) of a token the authenticator has just verified; decoding it again is safe then. */
function expiryOf(token: string): number | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const exp = (payload as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * graphql-ws on the gateway's `/graphql` (same URL as HTTP, WebSocket upgrade). @apollo/gateway does not
 * federate subscriptions, so this serves its own small schema (schema.ts) fed by the event bus.
 *
 * Authentication: `connectionParams.authorization` (`Bearer <access token>`) is verified at `connection_init`
 * like an HTTP request's header; without a valid, unrevoked token the socket is closed 4401. A timer closes it
 * 4401 "Token expired" at the token's `exp` (clients reconnect with a fresh token), and a `session.revoked` event
 * for the connection's own session closes it 4401 "Session revoked" (after delivering that event to an open
 * `sessionEvents` subscription). The HTTP protection plugin (depth, cost, aliases, rate limits) does not apply
 * here: the schema is tiny and flat, and each connection is bounded by the limits below instead.
 */
export async function createRealtimeServer(options: RealtimeServerOptions): Promise<RealtimeServer> {
  const { events, authenticator, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const maxSubscriptions = options.maxSubscriptionsPerConnection ?? 10;
  const maxConnectionsPerIp = options.maxConnectionsPerIp ?? 20;
  const states = new Map<WebSocket, ConnectionState>();
  const perIp = new Map<string, number>();
  const schema = buildRealtimeSchema();
  const roots = realtimeRoots(events);

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes ?? 64 * 1024,
    // graphql-ws messages are small JSON; compression would cost CPU per socket for little.
    perMessageDeflate: false,
  });

  const close = (socket: WebSocket, code: number, reason: string) => {
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
      socket.close(code, reason);
  };

  // One bus subscription for all connections: a revoked session closes its sockets even without a subscription.
  const stopRevocations: Unsubscribe = await events.subscribe(SESSION_TOPICS.REVOKED, (raw) => {
    const parsed = sessionEventPayload.safeParse(raw);
    if (!parsed.success) return;
    for (const [socket, state] of states) {
      // A socket with an open sessionEvents stream is closed by that stream, after it delivered the event.
      if (state.viewer.sessionId === parsed.data.sessionId && state.sessionStreams.open === 0) {
        close(socket, CloseCode.Unauthorized, RealtimeCloseReason.SESSION_REVOKED);
      }
    }
  });

  const disposable = useServer<Record<string, unknown> | undefined, { state?: ConnectionState }>(
    {
      schema,
      roots,
      connectionInitWaitTimeout: options.connectionInitTimeoutMs ?? 3000,
      isProd: options.production ?? false,
      async onConnect(ctx) {
        const { socket } = ctx.extra;
        const authorization = ctx.connectionParams?.authorization;
        const refuse = (reason: string) => {
          close(socket, CloseCode.Unauthorized, reason);
          return false;
        };
        if (typeof authorization !== 'string') return refuse(RealtimeCloseReason.UNAUTHORIZED);
        let viewer: Viewer | undefined;
        let token: string | undefined;
        try {
          token = bearerTokenFrom(authorization);
          viewer = await authenticator.authenticate(authorization);
        } catch {
          return refuse(RealtimeCloseReason.UNAUTHORIZED);
        }
        const exp = token === undefined ? undefined : expiryOf(token);
        if (!viewer || exp === undefined) return refuse(RealtimeCloseReason.UNAUTHORIZED);
        if (await authenticator.isRevoked(viewer)) return refuse(RealtimeCloseReason.SESSION_REVOKED);
        // The socket may have closed while the token was checked.
        if (socket.readyState !== socket.OPEN) return false;

        const expiresAt = exp * 1000;
        const expiryTimer = setTimeout(
          () => close(socket, CloseCode.Unauthorized, RealtimeCloseReason.TOKEN_EXPIRED),
          Math.min(Math.max(expiresAt - now(), 0), MAX_TIMER_MS),
        );
        expiryTimer.unref();
        states.set(socket, { viewer, authorization, expiresAt, expiryTimer, sessionStreams: { open: 0 } });
        return true;
      },
      onSubscribe(ctx, _id, payload) {
        // graphql-ws registers the operation before this hook, so it is included in the count.
        if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
          return [
            new GraphQLError(`At most ${maxSubscriptions} subscriptions per connection`, {
              extensions: {
                code: ErrorCode.BAD_USER_INPUT,
                details: { reason: RealtimeRefusal.TOO_MANY_SUBSCRIPTIONS, limit: maxSubscriptions },
              },
            }),
          ];
        }
        // Several operations in the document (the playground's editor): run the selected one on its own.
        const selected = selectedOperationDocument(schema, payload.query, payload.operationName);
        if (selected === undefined) return undefined;
        if (isErrorList(selected)) return [...selected];
        return {
          schema,
          document: selected,
          operationName: payload.operationName,
          variableValues: payload.variables,
        };
      },
      context(ctx): RealtimeContext {
        const { socket } = ctx.extra;
        const state = states.get(socket);
        // onConnect accepted the socket only after storing its state; graphql-ws refuses operations before that.
        if (!state) throw new Error('realtime: operation on an unauthenticated connection');
        return {
          viewer: state.viewer,
          graph: (query) => queryGraph(state.authorization, query),
          expiresAt: state.expiresAt,
          maxSubscriptions,
          sessionStreams: state.sessionStreams,
          sessionEnded: () => close(socket, CloseCode.Unauthorized, RealtimeCloseReason.SESSION_REVOKED),
          onOverflow: () =>
            logger.warn({ userId: state.viewer.userId }, 'realtime: slow consumer, dropped an event'),
        };
      },
      onClose(ctx) {
        const state = states.get(ctx.extra.socket);
        if (state) clearTimeout(state.expiryTimer);
        states.delete(ctx.extra.socket);
      },
    },
    wss,
  );

  wss.on('connection', (socket: WebSocket) => {
    metrics?.gauges.websocketConnections.inc();
    socket.once('close', () => metrics?.gauges.websocketConnections.dec());
  });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== GRAPHQL_PATH) return refuseUpgrade(socket, 404, 'Not Found');
    const address = (options.clientAddress ?? peerAddressOf)(request);
    const ip = address === undefined ? 'unknown' : rateLimitSubjectOf(address);
    const open = perIp.get(ip) ?? 0;
    if (open >= maxConnectionsPerIp) return refuseUpgrade(socket, 429, 'Too Many Requests');
    // Counted from the upgrade request to the TCP close (also when the handshake fails), so a burst of upgrades
    // cannot overshoot the limit and a refused handshake does not leak a slot.
    perIp.set(ip, open + 1);
    socket.once('close', () => {
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left <= 0) perIp.delete(ip);
      else perIp.set(ip, left);
    });
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };

  let attached: Server | undefined;
  let closed: Promise<void> | undefined;

  /**
   * Runs a query through the gateway's own HTTP `/graphql` (the federated graph: every subgraph, every shield rule)
   * as the connection's user: how event payloads get fields from the supergraph. Token checks, rate limits and
   * query limits apply exactly as to any HTTP request.
   */
  async function queryGraph(authorization: string, query: string): Promise<unknown> {
    const address = attached?.address();
    if (!address || typeof address === 'string') throw new Error('realtime: the gateway is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const response = await fetch(
      `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}/graphql`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true', authorization },
        body: JSON.stringify({ query }),
        signal: AbortSignal.timeout(10_000),
      },
    );
    const body = (await response.json()) as { data?: unknown; errors?: { message: string }[] };
    if (body.errors?.length) throw new GraphQLError(body.errors[0]!.message);
    return body.data;
  }
  return {
    attach(server) {
      attached = server;
      server.on('upgrade', onUpgrade);
    },
    connectionCount: () => wss.clients.size,
    close: () =>
      (closed ??= (async () => {
        attached?.off('upgrade', onUpgrade);
        await stopRevocations();
        for (const state of states.values()) clearTimeout(state.expiryTimer);
        // Sockets that do not answer the close handshake promptly are cut: shutdown must not wait on clients.
        const cut = setTimeout(() => {
          for (const socket of wss.clients) socket.terminate();
        }, 1000);
        cut.unref();
        await Promise.resolve(disposable.dispose()).catch((err: unknown) =>
          logger.warn({ err }, 'realtime: close failed'),
        );
        clearTimeout(cut);
      })()),
  };
}
