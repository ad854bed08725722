import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Kind, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import { tokenSetFrom, type AuthPayloadTokens, type TokenSet, type TokenStore } from './auth.js';
import { GatehouseError, NetworkError, type ErrorReason } from './errors.js';
import { RefreshTokenDocument } from './generated/graphql.js';
import type { FetchLike, OperationMeta, OperationOptions, Transport } from './transport.js';

/** How a session gets a new access token. Throwing a {@link GatehouseError} ends the session. */
export interface RefreshStrategy {
  /** Whether a refresh can be tried with what the store holds (a refresh token, or a cookie session). */
  canRefresh(current: TokenSet | undefined): boolean;
  refresh(current: TokenSet | undefined, signal?: AbortSignal): Promise<TokenSet>;
}

/**
 * Why the session ended: the refresh's `details.reason` (`REFRESH_TOKEN_REUSED`, `SESSION_REVOKED`,
 * `SESSION_EXPIRED`, `INVALID_REFRESH_TOKEN`, `NO_SESSION`), or its code when the answer named no reason.
 */
export type AuthFailureReason = ErrorReason | 'UNAUTHENTICATED' | (string & {});

/** The session is over: sign the user in again. Emitted once per failed refresh, after the store was cleared. */
export interface AuthFailureEvent {
  reason: AuthFailureReason;
  error: GatehouseError;
}

const REFRESH_META: OperationMeta = { operationName: 'RefreshToken', kind: 'mutation', idempotent: false };

/**
 * Token mode: the `refreshToken` mutation with the stored refresh token, over `transport` (which must not add
 * retries: a refresh token is single-use).
 */
export function refreshTokenMutation(transport: Transport): RefreshStrategy {
  return {
    canRefresh: (current) => current?.refreshToken !== undefined,
    async refresh(current, signal) {
      if (!current?.refreshToken) {
        throw GatehouseError.create('UNAUTHENTICATED', 'Not signed in', { reason: 'NO_SESSION' });
      }
      const result = await transport.execute(
        RefreshTokenDocument,
        { refreshToken: current.refreshToken },
        REFRESH_META,
        signal ? { signal } : {},
      );
      return tokenSetFrom(result.refreshToken);
    },
  };
}

export interface CookieRefreshOptions {
  /**
   * The app server's refresh endpoint (same site as the page): it reads the httpOnly refresh-token cookie,
   * calls `refreshToken`, sets the rotated cookie and answers `200 { accessToken, accessTokenExpiresAt }`
   * (or the GraphQL answer `{ data: { refreshToken: { ... } } }`); a failure answers the API's `{ errors }`.
   */
  url: string;
  /** Headers for the request, read at each refresh: typically the CSRF double-submit token. */
  headers?: () => Record<string, string> | undefined;
  /** Default `include`, so a sibling origin's cookie is sent. */
  credentials?: RequestInit['credentials'];
  fetch?: FetchLike;
}

function reasonFromBody(body: unknown): {
  code: string | undefined;
  reason: string | undefined;
  message: string;
} {
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const first = Array.isArray(record.errors)
    ? (record.errors[0] as Record<string, unknown> | undefined)
    : undefined;
  const extensions = (first?.extensions ?? {}) as { code?: unknown; details?: { reason?: unknown } };
  const reason = extensions.details?.reason ?? record.reason ?? record.error;
  return {
    code: typeof extensions.code === 'string' ? extensions.code : undefined,
    reason: typeof reason === 'string' ? reason : undefined,
    message: typeof first?.message === 'string' ? first.message : 'The session could not be refreshed',
  };
}

/** Cookie mode: refresh through the app server's endpoint; the refresh token stays in its httpOnly cookie. */
export function cookieRefresh(options: CookieRefreshOptions): RefreshStrategy {
  return {
    // A cookie session exists only once the app signed in (or restored it with `restoreSession`).
    canRefresh: (current) => current !== undefined,
    async refresh(_current, signal) {
      const doFetch = options.fetch ?? globalThis.fetch;
      let response: Response;
      try {
        response = await doFetch(options.url, {
          method: 'POST',
          credentials: options.credentials ?? 'include',
          headers: { accept: 'application/json', ...options.headers?.() },
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        throw new NetworkError('The refresh endpoint could not be reached', { cause: error });
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch (error) {
        throw new NetworkError(`The refresh endpoint answered HTTP ${response.status} without JSON`, {
          status: response.status,
          cause: error,
        });
      }
      const record = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      const data = record.data as { refreshToken?: AuthPayloadTokens } | undefined;
      const payload = data?.refreshToken ?? (record as unknown as AuthPayloadTokens);
      if (response.ok && !record.errors && typeof payload.accessToken === 'string') {
        return tokenSetFrom(payload, false);
      }
      if (response.status >= 500) {
        throw new NetworkError(`The refresh endpoint answered HTTP ${response.status}`, {
          status: response.status,
        });
      }
      const { code, reason, message } = reasonFromBody(body);
      // 401 (or the API's UNAUTHENTICATED) ends the session; anything else (429, a CSRF 403) is not its fault.
      if (response.status === 401 || code === 'UNAUTHENTICATED') {
        throw GatehouseError.create(
          'UNAUTHENTICATED',
          message,
          { reason: reason ?? 'NO_SESSION' },
          {
            status: response.status,
            operationName: 'RefreshToken',
          },
        );
      }
      throw new GatehouseError(message, code, {
        status: response.status,
        operationName: 'RefreshToken',
        ...(Array.isArray(record.errors) ? { errors: record.errors as GraphQLFormattedError[] } : {}),
      });
    },
  };
}

export interface TokenManagerOptions {
  store: TokenStore;
  strategy: RefreshStrategy;
  /** Refresh when the access token has less than this left. Default 60 s. */
  refreshAheadMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * Owns the session's tokens: hands out a valid access token, refreshing ahead of expiry, and refreshes at most
 * once at a time however many calls need it (single-flight).
 */
export interface TokenManager {
  /** A valid access token (refreshed first when it is about to expire), or undefined when signed out. */
  accessToken(signal?: AbortSignal): Promise<string | undefined>;
  /**
   * The API refused `rejected`: refresh, unless another call already replaced it (then that token is returned).
   * Rejects with the refresh's error (a {@link GatehouseError} ends the session).
   */
  refreshAfterRejection(rejected: string): Promise<string | undefined>;
  /** Refreshes now (joins a refresh in flight). */
  refresh(signal?: AbortSignal): Promise<TokenSet>;
  /** Stores tokens of a new sign-in (and forgets any refresh in flight for the old ones). */
  setTokens(tokens: TokenSet): Promise<void>;
  /** Forgets the tokens (sign-out). */
  clear(): Promise<void>;
  current(): Promise<TokenSet | undefined>;
  /**
   * The API said the session of `accessToken` is over (a realtime connection closed "Session revoked"): forget the
   * tokens and emit the auth-failure event, unless the store already holds other tokens (a new sign-in).
   */
  sessionEnded(error: GatehouseError, accessToken: string | undefined): Promise<void>;
  /** Called when a refresh ends the session; returns the unsubscribe function. */
  onAuthFailure(listener: (event: AuthFailureEvent) => void): () => void;
}

function isSessionEnd(error: unknown): error is GatehouseError {
  return error instanceof GatehouseError && error.code === 'UNAUTHENTICATED';
}

export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const { store, strategy } = options;
  const refreshAheadMs = options.refreshAheadMs ?? 60_000;
  const now = options.now ?? Date.now;
  const listeners = new Set<(event: AuthFailureEvent) => void>();
  let inFlight: Promise<TokenSet> | undefined;
  // Bumped by every sign-in and sign-out: a refresh started before must not store its answer over theirs.
  let generation = 0;

  const emit = (event: AuthFailureEvent) => {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not turn a refresh failure into a different error.
      }
    }
  };

  const refresh = (signal?: AbortSignal): Promise<TokenSet> => {
    if (inFlight) return inFlight;
    const started = generation;
    const run = (async () => {
      const current = await store.get();
      try {
        const next = await strategy.refresh(current, signal);
        if (generation === started) await store.set(next);
        return next;
      } catch (error) {
        // Only UNAUTHENTICATED ends the session; a network failure or a 429 leaves the tokens for the next try.
        if (isSessionEnd(error) && generation === started) {
          generation += 1;
          await store.clear();
          emit({ reason: error.reason ?? error.code, error });
        }
        throw error;
      }
    })();
    inFlight = run;
    // Cleared only if no sign-in replaced it meanwhile.
    const clearInFlight = () => {
      if (inFlight === run) inFlight = undefined;
    };
    run.then(clearInFlight, clearInFlight);
    return run;
  };

  return {
    async accessToken(signal) {
      const tokens = await store.get();
      if (!tokens) return inFlight ? (await inFlight).accessToken : undefined;
      if (tokens.accessTokenExpiresAt - now() > refreshAheadMs || !strategy.canRefresh(tokens)) {
        return tokens.accessToken;
      }
      try {
        return (await refresh(signal)).accessToken;
      } catch (error) {
        // Offline (or throttled) while the old token is still valid: use it; the next call tries again.
        if (!isSessionEnd(error) && tokens.accessTokenExpiresAt > now()) return tokens.accessToken;
        throw error;
      }
    },
    async refreshAfterRejection(rejected) {
      if (inFlight) return (await inFlight).accessToken;
      const tokens = await store.get();
      if (tokens && tokens.accessToken !== rejected) return tokens.accessToken;
      if (!strategy.canRefresh(tokens)) return undefined;
      return (await refresh()).accessToken;
    },
    refresh,
    async setTokens(tokens) {
      generation += 1;
      inFlight = undefined;
      await store.set(tokens);
    },
    async clear() {
      generation += 1;
      inFlight = undefined;
      await store.clear();
    },
    current: async () => store.get(),
    async sessionEnded(error, accessToken) {
      const tokens = await store.get();
      if (!tokens || accessToken === undefined || tokens.accessToken !== accessToken) return;
      generation += 1;
      inFlight = undefined;
      await store.clear();
      emit({ reason: error.reason ?? error.code, error });
    },
    onAuthFailure(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Root fields sent without an access token and never answered with a refresh: they are how one gets tokens. A
 * stale token on them would only trigger a pointless refresh before a sign-in.
 */
const ANONYMOUS_FIELDS: ReadonlySet<string> = new Set([
  'login',
  'verifyMfa',
  'sendMfaCode',
  'refreshToken',
  'completeOAuthLogin',
]);

function isAnonymous(document: DocumentNode): boolean {
  const fields: string[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    for (const selection of definition.selectionSet.selections) {
      if (selection.kind === Kind.FIELD) fields.push(selection.name.value);
    }
  }
  return fields.length > 0 && fields.every((field) => ANONYMOUS_FIELDS.has(field));
}

/**
 * `transport` with `Authorization: Bearer` from `tokens`. When the API refuses the token (UNAUTHENTICATED with
 * no `reason`: expired, revoked, or signed with a retired key) it refreshes once and sends the call again; an
 * UNAUTHENTICATED with a reason (wrong password, wrong MFA code) is the operation's answer and passes through.
 */
export function withAuth(transport: Transport, tokens: TokenManager): Transport {
  const authed: Transport = {
    async execute<TResult, TVariables>(
      document: TypedDocumentNode<TResult, TVariables>,
      variables: TVariables,
      meta: OperationMeta,
      options: OperationOptions = {},
    ): Promise<TResult> {
      if (isAnonymous(document)) return transport.execute(document, variables, meta, options);
      const send = (token: string | undefined) =>
        transport.execute(document, variables, meta, {
          ...options,
          headers: { ...options.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        });
      const token = await tokens.accessToken(options.signal);
      try {
        return await send(token);
      } catch (error) {
        const refused =
          error instanceof GatehouseError && error.code === 'UNAUTHENTICATED' && error.reason === undefined;
        if (!refused || token === undefined) throw error;
        const fresh = await tokens.refreshAfterRejection(token);
        if (fresh === undefined || fresh === token) throw error;
        return send(fresh);
      }
    },
  };
  if (transport.subscribe) authed.subscribe = transport.subscribe.bind(transport);
  return authed;
}
