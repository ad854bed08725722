// Test-only (excluded from the build): a local HTTP server that answers GraphQL requests the way a test says,
// and records every request, so the runtime is tested over real HTTP and real fetch.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (`{ query, variables, operationName }` for GraphQL). */
  body: { query?: string; variables?: Record<string, unknown>; operationName?: string } & Record<
    string,
    unknown
  >;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** Serialised as JSON unless it is a string (sent as is). */
  body: unknown;
}

export type Handler = (request: RecordedRequest) => Reply | Promise<Reply>;

export interface LocalServer {
  url: string;
  readonly requests: RecordedRequest[];
  /** Requests whose GraphQL operation is `operationName`. */
  requestsFor(operationName: string): RecordedRequest[];
  close(): Promise<void>;
}

export async function startLocalServer(handler: Handler): Promise<LocalServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const request: RecordedRequest = {
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          headers: req.headers,
          body: text ? (JSON.parse(text) as RecordedRequest['body']) : {},
        };
        requests.push(request);
        try {
          const reply = await handler(request);
          const payload = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
          res.writeHead(reply.status ?? 200, {
            'content-type': typeof reply.body === 'string' ? 'text/html' : 'application/json',
            ...reply.headers,
          });
          res.end(payload);
        } catch (error) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(error));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    requests,
    requestsFor: (operationName) => requests.filter((r) => r.body.operationName === operationName),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A typed document for tests, written inline. */
export function typedDocument<TResult, TVariables = Record<string, never>>(
  source: string,
): TypedDocumentNode<TResult, TVariables> {
  return parse(source) as TypedDocumentNode<TResult, TVariables>;
}

/** A GraphQL error answer, as the gateway sends it. */
export function errorReply(
  code: string,
  options: {
    reason?: string;
    status?: number;
    headers?: Record<string, string>;
    message?: string;
    details?: Record<string, unknown>;
  } = {},
): Reply {
  const details = options.reason ? { reason: options.reason, ...options.details } : options.details;
  return {
    status: options.status ?? 200,
    ...(options.headers ? { headers: options.headers } : {}),
    body: {
      errors: [{ message: options.message ?? code, extensions: { code, ...(details ? { details } : {}) } }],
    },
  };
}
