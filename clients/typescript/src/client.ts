import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Kind, type DocumentNode } from 'graphql';
import {
  createMemoryTokenStore,
  tokenSetFrom,
  type AuthPayloadTokens,
  type TokenSet,
  type TokenStore,
} from './auth.js';
import { GatehouseError } from './errors.js';
import {
  LoginDocument,
  LogoutDocument,
  VerifyMfaDocument,
  type MfaMethod,
  type UserStatus,
} from './generated/graphql.js';
import { createSdk, OPERATIONS, type Sdk } from './generated/sdk.js';
import {
  cookieRefresh,
  createTokenManager,
  refreshTokenMutation,
  withAuth,
  type AuthFailureEvent,
  type CookieRefreshOptions,
  type TokenManager,
} from './refresh.js';
import { createRetryPolicy, withRetry, type RetryPolicyOptions } from './retry.js';
import { createSubscriptionClient, type SubscriptionClient } from './subscriptions.js';
import {
  createHttpTransport,
  type FetchLike,
  type OperationMeta,
  type OperationOptions,
  type Transport,
} from './transport.js';

export interface GatehouseClientOptions {
  /** The gateway's GraphQL endpoint, e.g. `http://localhost:4000/graphql` (or your app server's proxy of it). */
  url: string;
  fetch?: FetchLike;
  /** Sent with every HTTP request. */
  headers?: Record<string, string>;
  /** `include` to send cookies to another origin (cookie sessions). */
  credentials?: RequestInit['credentials'];
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /** Replaces the HTTP transport (a test fake, a transport over Apollo Client); auth and retries wrap it. */
  transport?: Transport;
  /** Where tokens are kept; default in memory. */
  tokenStore?: TokenStore;
  /**
   * Cookie mode: the refresh token stays in an httpOnly cookie of your app server, which refreshes at
   * `cookieSession.url`. Without it the client keeps the refresh token in `tokenStore` (token mode).
   */
  cookieSession?: CookieRefreshOptions & {
    /** Your server's sign-out endpoint that clears the cookie (`POST`, with credentials), if it has one. */
    signOutUrl?: string;
  };
  /** Retries of idempotent operations; `false` turns them off. */
  retry?: RetryPolicyOptions | false;
  /** Refresh when the access token has less than this left; default 60 s. */
  refreshAheadMs?: number;
  /** Clock for token expiry, epoch ms (tests step it forward). */
  now?: () => number;
  /** graphql-ws subscriptions. */
  subscriptions?: {
    /** Default: `url` with `ws:`/`wss:`. */
    url?: string;
    /** Default: the global WebSocket (browsers, Node 22+). */
    webSocketImpl?: unknown;
    retryAttempts?: number;
  };
}

/** The user fields `signIn` and `verifyMfa` return (what a sign-in may read; `client.sdk.me()` has the rest). */
export interface SignedInUser {
  id: string;
  email: string;
  emailVerified: boolean;
  status: UserStatus;
}

/** `login`'s `LoginResult` union: signed in, or a second factor is needed. */
export type SignInResult =
  | { kind: 'signed-in'; user: SignedInUser; accessTokenExpiresAt: Date; backupCodesRemaining: number | null }
  | { kind: 'mfa-required'; mfaToken: string; methods: MfaMethod[]; expiresAt: Date };

export type VerifyMfaResult = Extract<SignInResult, { kind: 'signed-in' }>;

export interface GatehouseClient {
  /** One typed method per public operation (`client.sdk.me()`), over {@link GatehouseClient.transport}. */
  readonly sdk: Sdk;
  /** GraphQL over HTTP with the session's access token, refresh and retries: give it to the generated SDK. */
  readonly transport: Transport;
  /** Signs in with email and password. Throws GatehouseError UNAUTHENTICATED (`INVALID_CREDENTIALS`, ...). */
  signIn(input: { email: string; password: string }, options?: OperationOptions): Promise<SignInResult>;
  /** Finishes an `mfa-required` sign-in with a code of one of its methods, or a backup code. */
  verifyMfa(input: { mfaToken: string; code: string }, options?: OperationOptions): Promise<VerifyMfaResult>;
  /** Ends the session on the server (best effort) and forgets the tokens. Resolves whether a session was ended. */
  signOut(options?: OperationOptions): Promise<boolean>;
  /** Cookie mode: picks up the session of the refresh cookie (after a page load). Resolves whether there is one. */
  restoreSession(): Promise<boolean>;
  /** Whether the client holds a session. */
  isSignedIn(): Promise<boolean>;
  /** Any typed document; its metadata is read from the document (queries idempotent, mutations not). */
  execute<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    options?: OperationOptions & { idempotent?: boolean },
  ): Promise<TResult>;
  /** A subscription over graphql-ws, authenticated with the session (token refreshed on reconnect). */
  subscribe<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
  ): AsyncIterable<TResult>;
  /** Called when the session ended on a refresh (revoked, reused refresh token, expired); returns unsubscribe. */
  onAuthFailure(listener: (event: AuthFailureEvent) => void): () => void;
  /** The token manager (current tokens, forced refresh). */
  readonly tokens: TokenManager;
  /** Closes the WebSocket, if one is open. */
  close(): Promise<void>;
}

interface AuthPayloadResult extends AuthPayloadTokens {
  user: SignedInUser;
  backupCodesRemaining: number | null;
}

const meta = (operationName: keyof typeof OPERATIONS): OperationMeta => ({
  operationName,
  ...OPERATIONS[operationName],
});

/** The metadata of a document the SDK did not generate: its first operation's name and kind. */
export function operationMetaOf(document: DocumentNode, idempotent?: boolean): OperationMeta {
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) {
    throw new TypeError('The document holds no operation');
  }
  const kind = operation.operation;
  return {
    operationName: operation.name?.value ?? 'Anonymous',
    kind,
    idempotent: idempotent ?? kind === 'query',
  };
}

/** `url` with `ws:`/`wss:`; a path is resolved against the page (browsers). */
function defaultWebSocketUrl(url: string): string {
  const page = (globalThis as { location?: { href: string } }).location?.href;
  if (url.startsWith('/')) {
    if (!page) throw new TypeError('subscriptions.url is required when url is a path outside a browser');
    return new URL(url, page).href.replace(/^http/i, 'ws');
  }
  return url.replace(/^http/i, 'ws');
}

/**
 * A client for the Gatehouse API: sign-in with MFA, tokens kept and refreshed (ahead of expiry and when the API
 * refuses one, single-flight), retries of idempotent operations, subscriptions. Pass `client.transport` to the
 * generated SDK, or use `createGatehouseSdk` from the package root.
 */
export function createGatehouseClient(options: GatehouseClientOptions): GatehouseClient {
  const http =
    options.transport ??
    createHttpTransport({
      url: options.url,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  const cookieMode = options.cookieSession !== undefined;
  const strategy = options.cookieSession
    ? cookieRefresh({
        ...options.cookieSession,
        ...(options.fetch && !options.cookieSession.fetch ? { fetch: options.fetch } : {}),
      })
    : refreshTokenMutation(http);
  const tokens = createTokenManager({
    store: options.tokenStore ?? createMemoryTokenStore(),
    strategy,
    ...(options.refreshAheadMs !== undefined ? { refreshAheadMs: options.refreshAheadMs } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const retried = options.retry === false ? http : withRetry(http, createRetryPolicy(options.retry));
  const authed = withAuth(retried, tokens);

  let realtime: SubscriptionClient | undefined;
  const subscriptionClient = () =>
    (realtime ??= createSubscriptionClient({
      url: options.subscriptions?.url ?? defaultWebSocketUrl(options.url),
      accessToken: () => tokens.accessToken(),
      refreshAfterRejection: (rejected) => tokens.refreshAfterRejection(rejected),
      onSessionRevoked: (error, accessToken) => tokens.sessionEnded(error, accessToken),
      ...(options.subscriptions?.webSocketImpl === undefined
        ? {}
        : { webSocketImpl: options.subscriptions.webSocketImpl }),
      ...(options.subscriptions?.retryAttempts === undefined
        ? {}
        : { retryAttempts: options.subscriptions.retryAttempts }),
    }));

  const transport: Transport = {
    execute: (document, variables, meta, callOptions) =>
      authed.execute(document, variables, meta, callOptions),
    subscribe: (document, variables) => subscriptionClient().subscribe(document, variables),
  };

  const signedIn = async (payload: AuthPayloadResult): Promise<VerifyMfaResult> => {
    const set: TokenSet = tokenSetFrom(payload, !cookieMode);
    await tokens.setTokens(set);
    return {
      kind: 'signed-in',
      user: payload.user,
      accessTokenExpiresAt: new Date(set.accessTokenExpiresAt),
      backupCodesRemaining: payload.backupCodesRemaining ?? null,
    };
  };

  return {
    sdk: createSdk(transport),
    transport,
    tokens,
    async signIn(input, callOptions) {
      const { login } = await transport.execute(LoginDocument, { input }, meta('Login'), callOptions);
      if (login.__typename === 'MfaChallenge') {
        return {
          kind: 'mfa-required',
          mfaToken: login.mfaToken,
          methods: login.methods,
          expiresAt: new Date(login.expiresAt),
        };
      }
      return signedIn(login);
    },
    async verifyMfa(input, callOptions) {
      const { verifyMfa } = await transport.execute(VerifyMfaDocument, input, meta('VerifyMfa'), callOptions);
      return signedIn(verifyMfa);
    },
    async signOut(callOptions) {
      const current = await tokens.current();
      try {
        if (!current) return false;
        // With a refresh token the server ends exactly its session, and no access token is needed (so none is
        // refreshed just to sign out); without one (cookie mode), the access token's session.
        const { logout } = current.refreshToken
          ? await retried.execute(
              LogoutDocument,
              { refreshToken: current.refreshToken },
              meta('Logout'),
              callOptions,
            )
          : await transport.execute(LogoutDocument, { refreshToken: null }, meta('Logout'), callOptions);
        return logout;
      } catch (error) {
        // Already ended on the server (revoked, expired): signed out all the same.
        if (error instanceof GatehouseError && error.code === 'UNAUTHENTICATED') return false;
        throw error;
      } finally {
        await tokens.clear();
        if (options.cookieSession?.signOutUrl) {
          const doFetch = options.cookieSession.fetch ?? options.fetch ?? globalThis.fetch;
          await doFetch(options.cookieSession.signOutUrl, {
            method: 'POST',
            credentials: options.cookieSession.credentials ?? 'include',
            headers: { ...options.cookieSession.headers?.() },
          }).catch(() => undefined);
        }
      }
    },
    async restoreSession() {
      try {
        await tokens.setTokens(await strategy.refresh(await tokens.current()));
        return true;
      } catch (error) {
        if (error instanceof GatehouseError && error.code === 'UNAUTHENTICATED') return false;
        throw error;
      }
    },
    isSignedIn: async () => (await tokens.current()) !== undefined,
    execute(document, variables, callOptions = {}) {
      const { idempotent, ...rest } = callOptions;
      return transport.execute(document, variables, operationMetaOf(document, idempotent), rest);
    },
    subscribe: (document, variables) => subscriptionClient().subscribe(document, variables),
    onAuthFailure: (listener) => tokens.onAuthFailure(listener),
    async close() {
      await realtime?.dispose();
      realtime = undefined;
    },
  };
}
