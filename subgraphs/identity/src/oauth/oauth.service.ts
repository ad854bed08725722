/**
 * The OAuth service, composed from its steps: start and state (oauth-start.ts), the callback and account
 * resolution (oauth-callback.ts, whose opening comment states the resolution rules), linking (oauth-linking.ts),
 * on what they share (oauth-toolkit.ts).
 */
import type { EnvelopeCipher } from '@gatehouse/crypto';
import type { KeyValueStore } from '@gatehouse/kv';
import type { AuditLog } from '../audit';
import type { AccountRepository } from '../users';
import type { ClientInfo } from '../client-info';
import type { OAuthConfig } from './config';
import type { OAuthAccountRepository } from './oauth-account.repository';
import { createCallbackSteps } from './oauth-callback';
import { createLinkingSteps } from './oauth-linking';
import { createStartSteps } from './oauth-start';
import { BINDING_COOKIE, COMPLETION_COOKIE, createOAuthToolkit, providerTokenAad } from './oauth-toolkit';

export { BINDING_COOKIE, COMPLETION_COOKIE, providerTokenAad };

/** A configured provider, for the sign-in buttons. */
export interface OAuthProviderInfo {
  key: string;
  displayName: string;
}

export interface StartOAuthInput {
  provider: string;
  /** The app's landing page; must be on OAUTH_REDIRECT_ALLOWLIST exactly. */
  redirectUri: string;
  /** A signed-in user linking another provider. */
  linkUserId?: string | null;
  /**
   * `cookie`: the REST form (`GET /auth/oauth/<provider>/start`); the flow is bound to a cookie the callback
   * checks. `client`: the GraphQL form; the app keeps `state` and presents it with the result code.
   */
  binding: 'cookie' | 'client';
  /** Who asked; accepted for symmetry with the other calls (starting a flow is not audited: nothing happened). */
  client?: ClientInfo;
}

export interface StartedOAuth {
  /** Send the browser here. */
  authorizationUrl: string;
  /** The flow's state (for `client` binding: keep it, e.g. in sessionStorage). */
  state: string;
  /** `cookie` binding only: the cookie value (its hash is stored). */
  browserBinding?: string;
  /** `cookie` binding only: the Set-Cookie header carrying {@link browserBinding}. */
  setCookie?: string[];
}

export interface OAuthCallbackInput {
  /** The `:provider` route segment. */
  provider: string;
  /** The callback's query string. */
  query: URLSearchParams;
  /** The `gatehouse_oauth` cookie, if the browser sent one. */
  browserBinding: string | null;
  client: ClientInfo;
}

/** What the callback route answers: a redirect to the app, or (without a usable state) a 400. */
export interface OAuthHttpResponse {
  status: number;
  location?: string;
  body?: string;
  contentType?: string;
  setCookie?: string[];
}

/** Who the callback proved the browser to be. */
export interface OAuthSignInResult {
  userId: string;
  provider: string;
  isNewUser: boolean;
}

/** A provider identity linked to a user, as users see it (never tokens). */
export interface LinkedOAuthAccount {
  provider: string;
  /** The configured display name, or the key when the provider is no longer configured. */
  displayName: string;
  email: string | null;
  emailVerified: boolean;
  linkedAt: Date;
}

/** What the `oauth.providers` setting says of one provider. */
export interface OAuthProviderRule {
  enabled: boolean;
  /** Only verified e-mail addresses of these domains may sign in or link with the provider; empty: any. */
  allowedEmailDomains: readonly string[];
}

/** The setting's rules by provider key (`google`, `github`, `microsoft`, ...). */
export type OAuthProviderRules = Readonly<Record<string, OAuthProviderRule>>;

export interface OAuthService {
  /** Configured providers that are switched on, in configuration order. */
  providers(): Promise<OAuthProviderInfo[]>;
  /**
   * @throws AppError BAD_USER_INPUT (OAUTH_PROVIDER_UNAVAILABLE, OAUTH_REDIRECT_URI_NOT_ALLOWED);
   * ServiceUnavailableError (OAUTH_PROVIDER_ERROR) when an OpenID provider's discovery cannot be fetched.
   */
  start(input: StartOAuthInput): Promise<StartedOAuth>;
  /**
   * `GET /auth/oauth/<provider>/callback`: consumes the state, exchanges the code, resolves the user (see the
   * rules above) and redirects to the flow's redirect URI with `code` and `state`, `linked=<provider>` and
   * `state` (link flows), or `error=<reason>` and `state`. Without a valid state: 400, reason OAUTH_STATE_INVALID.
   */
  handleCallback(input: OAuthCallbackInput): Promise<OAuthHttpResponse>;
  /**
   * Redeems the callback's result code (once) with the state of the flow it was minted for and, for a flow
   * started with `GET /auth/oauth/<provider>/start`, the browser's {@link COMPLETION_COOKIE} value.
   * @throws AuthenticationError OAUTH_CODE_INVALID or OAUTH_STATE_INVALID (also: started in another browser).
   */
  completeSignIn(
    code: string,
    state: string,
    client?: ClientInfo,
    browserBinding?: string | null,
  ): Promise<OAuthSignInResult>;
  /**
   * Only with `linkCompletion: 'app'`: links the identity a link flow's callback proved, for the user who started
   * it. @throws AuthenticationError OAUTH_CODE_INVALID / OAUTH_STATE_INVALID; ConflictError
   * OAUTH_ACCOUNT_LINKED_ELSEWHERE / OAUTH_PROVIDER_ALREADY_LINKED.
   */
  completeLink(code: string, state: string, userId: string, client?: ClientInfo): Promise<LinkedOAuthAccount>;
  listLinked(userId: string): Promise<LinkedOAuthAccount[]>;
  /**
   * @throws NotFoundError OAUTH_ACCOUNT_NOT_FOUND; AppError BAD_USER_INPUT OAUTH_LAST_SIGN_IN_METHOD when the user
   * has no password and no other provider.
   */
  unlink(userId: string, provider: string, client?: ClientInfo): Promise<void>;
}

export interface OAuthServiceOptions {
  /** Users found or created by a provider sign-in. */
  accounts: AccountRepository;
  /** Provider links (the only database access of OAuth besides `accounts`). */
  repository: OAuthAccountRepository;
  kv: KeyValueStore;
  /** Encrypts provider tokens at rest and the pending flows in the store. */
  cipher: EnvelopeCipher;
  audit: AuditLog;
  /** The parsed `oauth` concern. */
  config: OAuthConfig;
  /** Mails the verification link to a new account with an unverified provider address (registration's resend). */
  requestEmailVerification: (email: string) => Promise<void>;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Timeout of every provider call. Default 10 s. */
  httpTimeoutMs?: number;
  now?: () => Date;
  logger?: { warn(details: object, message: string): void };
  /**
   * When a link flow's identity is linked. `callback` (default): at the callback, which redirects with
   * `linked=<provider>`. `app`: the callback redirects with `code` and `state` and the app calls
   * {@link OAuthService.completeLink} while signed in, so a link flow is bound to the browser that started it
   * like a sign-in is (see the report on login CSRF for link flows).
   */
  linkCompletion?: 'callback' | 'app';
  /**
   * The `oauth.providers` setting, read on every start and callback; undefined (never stored): every configured
   * provider, any e-mail domain. A configured provider the rules do not name (`facebook`, `oidc-okta`) is not
   * governed by them; `oidc-<name>` is governed by the rule of `<name>` (`oidc-microsoft` by `microsoft`).
   */
  providerRules?: () => Promise<OAuthProviderRules | undefined>;
}

export function createOAuthService(options: OAuthServiceOptions): OAuthService {
  const toolkit = createOAuthToolkit(options);
  const linking = createLinkingSteps(toolkit);
  return {
    ...createStartSteps(toolkit),
    ...createCallbackSteps(toolkit, linking),
    completeLink: linking.completeLink,
    listLinked: linking.listLinked,
    unlink: linking.unlink,
  };
}
