import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { GatehouseError, NetworkError } from './errors.js';

/** Close code the gateway uses for every authentication ending (see gateway/src/realtime/realtime-server.ts). */
const UNAUTHORIZED_CLOSE = 4401;
/** The gateway's close reasons with 4401. */
export const RealtimeCloseReason = {
  UNAUTHORIZED: 'Unauthorized',
  TOKEN_EXPIRED: 'Token expired',
  SESSION_REVOKED: 'Session revoked',
} as const;

export interface SubscriptionClientOptions {
  /** The gateway's graphql-ws endpoint: its `/graphql` with `ws:`/`wss:`. */
  url: string;
  /**
   * A fresh access token, read at every (re)connect: the gateway closes a socket when its token expires, and the
   * reconnect must carry the refreshed one.
   */
  accessToken: () => Promise<string | undefined>;
  /** Called when the gateway refused the token at connect (4401 "Unauthorized"): refresh, return the new one. */
  refreshAfterRejection?: (rejected: string) => Promise<string | undefined>;
  /**
   * The WebSocket constructor: the global one by default (browsers, Node 22+); pass `ws` (`import WebSocket
   * from 'ws'`) in older runtimes or to set socket options.
   */
  webSocketImpl?: unknown;
  /** The gateway closed the connection "Session revoked": the session of `accessToken` is over. */
  onSessionRevoked?: (error: GatehouseError, accessToken: string | undefined) => void | Promise<void>;
  /** Reconnects after the socket dropped (network, server restart) before an operation fails. Default 5. */
  retryAttempts?: number;
  /** Reconnects in a row after 4401 "Token expired" without any event in between. Default 3. */
  maxTokenReconnects?: number;
}

export interface SubscriptionClient {
  /** The operation's results, one per event; ends with the error that ended the stream. */
  subscribe<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
  ): AsyncIterable<TResult>;
  /** Closes the socket; open iterations end. */
  dispose(): Promise<void>;
}

interface CloseLike {
  code: number;
  reason: string;
}

function asClose(error: unknown): CloseLike | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, reason } = error as { code?: unknown; reason?: unknown };
  if (typeof code !== 'number') return undefined;
  return { code, reason: typeof reason === 'string' ? reason : String(reason ?? '') };
}

function isGraphQLErrorList(error: unknown): error is GraphQLFormattedError[] {
  return Array.isArray(error) && error.every((e) => typeof e === 'object' && e !== null && 'message' in e);
}

/**
 * graphql-ws against the gateway, with the access token in `connectionParams.authorization`. graphql-ws treats a
 * 4401 close as final; this client knows the gateway's reasons: "Token expired" reconnects with a fresh token,
 * "Session revoked" ends the stream with a GatehouseError (UNAUTHENTICATED, reason SESSION_REVOKED).
 */
export function createSubscriptionClient(options: SubscriptionClientOptions): SubscriptionClient {
  if (!/^wss?:\/\//i.test(options.url)) {
    throw new TypeError(
      `createSubscriptionClient: url must be a ws(s) URL, got ${JSON.stringify(options.url)}`,
    );
  }
  const maxTokenReconnects = options.maxTokenReconnects ?? 3;
  /** The token the last connection was opened with: refreshed at once if the gateway refuses it. */
  let lastToken: string | undefined;
  let rejectedToken: string | undefined;

  const client: Client = createClient({
    url: options.url,
    lazy: true,
    retryAttempts: options.retryAttempts ?? 5,
    ...(options.webSocketImpl === undefined ? {} : { webSocketImpl: options.webSocketImpl }),
    connectionParams: async () => {
      let token = await options.accessToken();
      if (token !== undefined && token === rejectedToken && options.refreshAfterRejection) {
        token = await options.refreshAfterRejection(token);
      }
      rejectedToken = undefined;
      lastToken = token;
      return token === undefined ? {} : { authorization: `Bearer ${token}` };
    },
  });

  async function* subscribe<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
  ): AsyncGenerator<TResult> {
    const query = print(document);
    let reconnects = 0;
    for (;;) {
      const iterator = client.iterate<TResult>({
        query,
        ...(variables === undefined || variables === null
          ? {}
          : { variables: variables as Record<string, unknown> }),
      });
      try {
        for await (const result of iterator) {
          if (result.errors?.length) {
            throw GatehouseError.fromGraphQLErrors(result.errors, { data: result.data });
          }
          reconnects = 0;
          if (result.data !== undefined && result.data !== null) yield result.data;
        }
        return;
      } catch (error) {
        if (error instanceof GatehouseError) throw error;
        if (isGraphQLErrorList(error)) throw GatehouseError.fromGraphQLErrors(error);
        const close = asClose(error);
        if (close?.code === UNAUTHORIZED_CLOSE) {
          if (close.reason === RealtimeCloseReason.SESSION_REVOKED) {
            const revoked = GatehouseError.create(
              'UNAUTHENTICATED',
              'The session has ended. Sign in again.',
              {
                reason: 'SESSION_REVOKED',
              },
            );
            await options.onSessionRevoked?.(revoked, lastToken);
            throw revoked;
          }
          // "Token expired" or a token refused at connect: once more with a fresh token. The server is the judge
          // of expiry: the client's clock (and the server's clock tolerance at connect) may still call it valid,
          // and reconnecting with it would only be closed again at once.
          rejectedToken = lastToken;
          if (reconnects < maxTokenReconnects) {
            reconnects += 1;
            continue;
          }
          throw GatehouseError.create('UNAUTHENTICATED', 'The realtime connection refused the access token');
        }
        throw new NetworkError(
          close
            ? `The realtime connection closed (${close.code} ${close.reason})`
            : 'The realtime connection failed',
          { cause: error },
        );
      } finally {
        await iterator.return?.();
      }
    }
  }

  return {
    subscribe: (document, variables) => subscribe(document, variables),
    dispose: async () => {
      await client.dispose();
    },
  };
}
