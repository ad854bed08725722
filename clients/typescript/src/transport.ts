import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import { GatehouseError, NetworkError } from './errors.js';

/** What a GraphQL operation is; only queries and mutations go over HTTP. */
export type OperationKind = 'query' | 'mutation' | 'subscription';

/** What the generated SDK tells the runtime about each operation (`OPERATIONS` in `generated/sdk.ts`). */
export interface OperationMeta {
  operationName: string;
  kind: OperationKind;
  /** Safe to send twice: the retry policy only ever retries operations marked so. */
  idempotent: boolean;
}

/** Per-call options every SDK method accepts as its last argument. */
export interface OperationOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/**
 * The one seam between the typed SDK and the network: tests and users can swap it (a recording fake, a
 * transport over Apollo Client, ...). `execute` resolves with `data` or rejects with a {@link GatehouseError}
 * (the API answered with errors) or a {@link NetworkError} (no usable answer).
 */
export interface Transport {
  execute<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    meta: OperationMeta,
    options?: OperationOptions,
  ): Promise<TResult>;
  subscribe?<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    meta: OperationMeta,
  ): AsyncIterable<TResult>;
}

/** The `fetch` the transports need: the global one in Node 24 and browsers, or any compatible function. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpTransportOptions {
  /** The gateway's GraphQL endpoint, e.g. `http://localhost:4000/graphql`, or a path (`/graphql`) in a browser. */
  url: string;
  /** Default: `globalThis.fetch`, looked up at each call (so a test or polyfill installed later is used). */
  fetch?: FetchLike;
  /** Sent with every request (e.g. `x-request-id`); per-call headers override them. */
  headers?: Record<string, string>;
  /**
   * `include` when the API is on another origin and must see cookies (cookie sessions behind a same-site BFF);
   * default: the browser's default (`same-origin`).
   */
  credentials?: RequestInit['credentials'];
  /** Gives up on a request after this long with a {@link NetworkError}. Default 30 s; 0 disables it. */
  timeoutMs?: number;
}

interface GraphQLResponseBody {
  data?: unknown;
  errors?: readonly GraphQLFormattedError[];
}

// Printing a document is linear in its size; generated documents are module constants, so print each once.
const printed = new WeakMap<DocumentNode, string>();
function queryText(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

function isResponseBody(value: unknown): value is GraphQLResponseBody {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { errors } = value as { errors?: unknown };
  return errors === undefined || Array.isArray(errors);
}

/** Combines the caller's signal with the timeout, without `AbortSignal.any` where it is missing. */
function requestSignal(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal | undefined {
  const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
  if (!signal) return timeout;
  if (!timeout) return signal;
  return AbortSignal.any([signal, timeout]);
}

/**
 * GraphQL over HTTP (`POST`, `application/json`) with `fetch`: works in Node 24 and browsers. It adds no
 * authentication and never retries: {@link createGatehouseClient} layers those on top.
 */
export function createHttpTransport(options: HttpTransportOptions): Transport {
  const { url, headers: baseHeaders = {}, credentials } = options;
  // A path (`/graphql`) is fine in a browser: fetch resolves it against the page.
  if (typeof url !== 'string' || !/^(https?:\/\/|\/(?!\/))/i.test(url)) {
    throw new TypeError(
      `createHttpTransport: url must be an http(s) URL or a path, got ${JSON.stringify(url)}`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 30_000;

  return {
    async execute<TResult, TVariables>(
      document: TypedDocumentNode<TResult, TVariables>,
      variables: TVariables,
      meta: OperationMeta,
      callOptions: OperationOptions = {},
    ): Promise<TResult> {
      const doFetch = options.fetch ?? globalThis.fetch;
      const signal = requestSignal(callOptions.signal, timeoutMs);
      let response: Response;
      try {
        response = await doFetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json, application/json',
            ...baseHeaders,
            ...callOptions.headers,
          },
          body: JSON.stringify({ query: queryText(document), variables, operationName: meta.operationName }),
          ...(credentials ? { credentials } : {}),
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        // The caller's own abort is theirs to handle, not a network failure.
        if (callOptions.signal?.aborted) throw callOptions.signal.reason;
        throw new NetworkError(`${meta.operationName}: the request failed`, {
          operationName: meta.operationName,
          cause: error,
        });
      }
      const retryAfter = response.headers.get('retry-after') ?? undefined;
      let body: unknown;
      try {
        body = await response.json();
      } catch (error) {
        if (callOptions.signal?.aborted) throw callOptions.signal.reason;
        // An HTML error page from a proxy, a truncated body: no GraphQL answer at all.
        throw new NetworkError(`${meta.operationName}: HTTP ${response.status} without a GraphQL response`, {
          operationName: meta.operationName,
          status: response.status,
          ...(retryAfter ? { retryAfter } : {}),
          cause: error,
        });
      }
      if (!isResponseBody(body)) {
        throw new NetworkError(`${meta.operationName}: HTTP ${response.status} with a malformed body`, {
          operationName: meta.operationName,
          status: response.status,
          ...(retryAfter ? { retryAfter } : {}),
        });
      }
      if (body.errors && body.errors.length > 0) {
        throw GatehouseError.fromGraphQLErrors(body.errors, {
          operationName: meta.operationName,
          status: response.status,
          data: body.data,
          ...(retryAfter ? { retryAfter } : {}),
        });
      }
      if (!response.ok || body.data === undefined || body.data === null) {
        throw new NetworkError(`${meta.operationName}: HTTP ${response.status} without data`, {
          operationName: meta.operationName,
          status: response.status,
          ...(retryAfter ? { retryAfter } : {}),
        });
      }
      return body.data as TResult;
    },
  };
}
