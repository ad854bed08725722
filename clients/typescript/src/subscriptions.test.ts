// The subscription client against a local graphql-ws server (the `ws` package, as the gateway uses) that closes
// sockets the way the gateway does: 4401 "Token expired" and 4401 "Session revoked".
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { GatehouseError } from './errors.js';
import { typedDocument } from './local-server.test-support.js';
import { createSubscriptionClient, type SubscriptionClient } from './subscriptions.js';

const schema = buildSchema(`type Query { ok: Boolean } type Subscription { ticks: Int! }`);
const TICKS = typedDocument<{ ticks: number }>('subscription Ticks { ticks }');

/** What the server does with each new connection, by its index. */
type Behaviour = (socket: WebSocket, index: number) => void;

let http: Server;
let wss: WebSocketServer;
let url: string;
let behaviour: Behaviour;
const authorizations: (string | undefined)[] = [];
let client: SubscriptionClient | undefined;

beforeAll(async () => {
  http = createServer();
  wss = new WebSocketServer({ server: http, path: '/graphql' });
  useServer(
    {
      schema,
      roots: {
        subscription: {
          ticks: async function* () {
            for (let i = 1; ; i += 1) {
              yield { ticks: i };
              await new Promise((resolve) => setTimeout(resolve, 20));
            }
          },
        },
      },
      onConnect(ctx) {
        const authorization = ctx.connectionParams?.authorization;
        authorizations.push(typeof authorization === 'string' ? authorization : undefined);
        behaviour(ctx.extra.socket, authorizations.length - 1);
        return true;
      },
    },
    wss,
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
});

afterEach(async () => {
  await client?.dispose();
  client = undefined;
  authorizations.length = 0;
});

afterAll(async () => {
  for (const socket of wss.clients) socket.terminate();
  await new Promise((resolve) => wss.close(resolve));
  await new Promise((resolve) => http.close(resolve));
});

function tokens() {
  let issued = 0;
  return {
    accessToken: async () => {
      issued += 1;
      return `token-${issued}`;
    },
  };
}

async function take<T>(iterable: AsyncIterable<T>, count: number): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (items.length === count) break;
  }
  return items;
}

it('sends the access token in connectionParams', async () => {
  behaviour = () => undefined;
  client = createSubscriptionClient({ url, webSocketImpl: WebSocket, ...tokens() });
  await expect(take(client.subscribe(TICKS, {}), 2)).resolves.toEqual([{ ticks: 1 }, { ticks: 2 }]);
  expect(authorizations).toEqual(['Bearer token-1']);
});

it('reconnects with a fresh token after 4401 "Token expired", and the stream goes on', async () => {
  // The first connection's token "expires" after a moment; the next ones stay open.
  behaviour = (socket, index) => {
    if (index === 0) setTimeout(() => socket.close(4401, 'Token expired'), 30);
  };
  client = createSubscriptionClient({ url, webSocketImpl: WebSocket, ...tokens() });
  const items = await take(client.subscribe(TICKS, {}), 4);
  expect(items.length).toBe(4);
  expect(authorizations).toEqual(['Bearer token-1', 'Bearer token-2']);
});

it('after "Token expired", refreshes even a token the client still believes valid (the server judges expiry)', async () => {
  behaviour = (socket, index) => {
    if (index === 0) setTimeout(() => socket.close(4401, 'Token expired'), 30);
  };
  let current = 'clock-skewed';
  client = createSubscriptionClient({
    url,
    webSocketImpl: WebSocket,
    accessToken: async () => current,
    refreshAfterRejection: async () => (current = 'refreshed'),
  });
  await take(client.subscribe(TICKS, {}), 3);
  expect(authorizations).toEqual(['Bearer clock-skewed', 'Bearer refreshed']);
});

it('refreshes a token the server refused at connect (4401 "Unauthorized") before reconnecting', async () => {
  behaviour = (socket, index) => {
    if (index === 0) socket.close(4401, 'Unauthorized');
  };
  const refreshed: string[] = [];
  client = createSubscriptionClient({
    url,
    webSocketImpl: WebSocket,
    // The store still holds the refused token until the refresh.
    accessToken: async () => 'stale',
    refreshAfterRejection: async (rejected) => {
      refreshed.push(rejected);
      return 'fresh';
    },
  });
  await take(client.subscribe(TICKS, {}), 1);
  expect(refreshed).toEqual(['stale']);
  expect(authorizations).toEqual(['Bearer stale', 'Bearer fresh']);
});

it('ends the stream with GatehouseError SESSION_REVOKED on 4401 "Session revoked", without reconnecting', async () => {
  behaviour = (socket) => setTimeout(() => socket.close(4401, 'Session revoked'), 30);
  const revoked: (string | undefined)[] = [];
  client = createSubscriptionClient({
    url,
    webSocketImpl: WebSocket,
    ...tokens(),
    onSessionRevoked: (_error, accessToken) => void revoked.push(accessToken),
  });
  const error = await take(client.subscribe(TICKS, {}), 1000).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(GatehouseError);
  expect(error).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
  expect(authorizations).toHaveLength(1);
  // The client is told which token's session ended, so it can forget exactly that session.
  expect(revoked).toEqual(['token-1']);
});

it('gives up after maxTokenReconnects refusals in a row', async () => {
  behaviour = (socket) => socket.close(4401, 'Unauthorized');
  client = createSubscriptionClient({ url, webSocketImpl: WebSocket, maxTokenReconnects: 2, ...tokens() });
  await expect(take(client.subscribe(TICKS, {}), 1)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  expect(authorizations).toHaveLength(3);
});
