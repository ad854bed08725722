import { createHash } from 'node:crypto';
import { constantTimeEqual, generateToken, hashToken, type EnvelopeCipher } from '@gatehouse/crypto';
import type { PrismaClient } from '@gatehouse/db';
import {
  AppError,
  AuthenticationError,
  ConflictError,
  ErrorCode,
  NotFoundError,
  ServiceUnavailableError,
} from '@gatehouse/errors';
import type { KeyValueStore } from '@gatehouse/kv';
import { AuditAction, type AuditLog, type AuditMetadataValue, type AuditOutcome } from '../audit';
import { CredentialErrorCode } from '../credentials';
import { createAccountRepository, type AccountRepository } from '../repositories/account.repository';
import type { ClientInfo } from '../services/client-info';
import type { OAuthConfig } from './config';
import { OAuthErrorCode } from './error-codes';
import {
  createOAuthAccountRepository,
  type OAuthAccountData,
  type OAuthAccountRepository,
} from './oauth-account.repository';
import {
  createOAuthStateStore,
  RESULT_CODE_TTL_SECONDS,
  STATE_TTL_SECONDS,
  type FlowResult,
  type PendingFlow,
} from './oauth-state';
import {
  createProviderAdapters,
  ProviderError,
  type ProviderAdapter,
  type ProviderSignIn,
} from './providers';

/*
 * ACCOUNT RESOLUTION: who a provider sign-in is (the rules the callback applies, in this order)
 *
 * a. The provider identity (provider key + the provider's stable subject id, never the e-mail address) is
 *    already linked: it is that user. A SUSPENDED or DEACTIVATED user is refused (ACCOUNT_DEACTIVATED), a user
 *    whose address is still unverified is refused (ACCOUNT_NOT_VERIFIED). The row's e-mail and tokens are
 *    refreshed.
 * b. Link flow (a signed-in user started it with `linkOAuthAccount`): refused when the identity is linked to
 *    another user (OAUTH_ACCOUNT_LINKED_ELSEWHERE) or the user already has an account of this provider, this
 *    identity included (OAUTH_PROVIDER_ALREADY_LINKED); otherwise linked. The provider's e-mail address plays no
 *    part: the user proved both sides.
 * c. The provider's e-mail address belongs to an existing user: linked automatically ONLY when the provider
 *    asserts it verified the address AND the existing account's address is verified (both parties proved
 *    control of the mailbox). Otherwise refused with OAUTH_EMAIL_IN_USE: sign in with the password, then link
 *    from settings. An unverified address never links, so nobody can pre-register a victim's address at a
 *    provider (or here) to take over the other side.
 * d. Nobody matches: a new user, which needs an address (OAUTH_EMAIL_REQUIRED). A verified provider address
 *    creates an ACTIVE user with a verified address and no password (the provider's name goes to the profile).
 *    An unverified one (Facebook never says; GitHub when no address is verified) creates a PENDING_VERIFICATION
 *    user with the identity linked, asks for the usual verification mail and answers ACCOUNT_NOT_VERIFIED: the
 *    user signs in with the provider again after clicking the link.
 * A concurrent sign-in or sign-up that wins a unique index makes the callback resolve once more from (a).
 */

/** `GET /auth/oauth/<provider>/start` sets this cookie; the callback compares it with the flow's binding. */
export const BINDING_COOKIE = 'gatehouse_oauth';
const COOKIE_PATH = '/auth/oauth';
/**
 * The callback of a REST-started flow hands the same binding value on in this cookie, scoped to `/graphql` and
 * as short-lived as the result code: `completeOAuthLogin` redeems that flow's code only with it (the gateway
 * forwards this one cookie to identity). The final redirect alone, forwarded to another browser, is refused.
 */
export const COMPLETION_COOKIE = 'gatehouse_oauth_result';
const COMPLETION_COOKIE_PATH = '/graphql';
const DEFAULT_ROLE = 'member';
/** generateToken(32): 43 base64url characters; anything else is refused without a lookup. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
const PROVIDER_KEY = /^[a-z0-9-]{1,64}$/;

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
  prisma: PrismaClient;
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
  /** Defaults built from `prisma`. */
  accounts?: AccountRepository;
  repository?: OAuthAccountRepository;
}

/** The associated data binding a stored provider token to its identity (pass it to `cipher.decrypt`). */
export function providerTokenAad(provider: string, providerAccountId: string): string {
  return `oauth-token:${provider}:${providerAccountId}`;
}

const badInput = (reason: string, message: string) =>
  new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
const unauthenticated = (reason: string, message: string) =>
  new AuthenticationError(message, { details: { reason } });

function cookie(
  value: string,
  maxAgeSeconds: number,
  secure: boolean,
  name = BINDING_COOKIE,
  path = COOKIE_PATH,
): string {
  return [
    `${name}=${value}`,
    `Path=${path}`,
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

export function createOAuthService(options: OAuthServiceOptions): OAuthService {
  const { kv, cipher, audit, config, requestEmailVerification, logger } = options;
  const now = options.now ?? (() => new Date());
  const accounts = options.accounts ?? createAccountRepository(options.prisma);
  const repository = options.repository ?? createOAuthAccountRepository(options.prisma);
  const linkCompletion = options.linkCompletion ?? 'callback';
  const store = createOAuthStateStore({ kv, cipher, now });
  const adapters = createProviderAdapters(config.providers, {
    http: { fetch: options.fetch ?? globalThis.fetch, timeoutMs: options.httpTimeoutMs ?? 10_000 },
    now,
  });
  const displayNames = new Map(config.providers.map((provider) => [provider.key, provider.displayName]));
  const allowlist = new Set(config.redirectAllowlist);
  const secureCookie = (config.callbackBaseUrl ?? '').startsWith('https:');
  const clearCookie = cookie('', 0, secureCookie);
  const callbackUrl = (provider: string) => `${config.callbackBaseUrl}/auth/oauth/${provider}/callback`;

  /** The rule governing a configured provider now, or null when nothing restricts it. */
  async function ruleOf(provider: string): Promise<OAuthProviderRule | null> {
    const rules = await options.providerRules?.();
    if (!rules) return null;
    const own = Object.hasOwn(rules, provider) ? rules[provider] : undefined;
    const bare = provider.startsWith('oidc-') ? provider.slice('oidc-'.length) : null;
    return own ?? (bare !== null && Object.hasOwn(rules, bare) ? rules[bare] : undefined) ?? null;
  }

  const isSwitchedOn = (rule: OAuthProviderRule | null) => rule === null || rule.enabled;

  /** Whether the rule lets this provider profile in: a domain list needs a verified address of one of them. */
  function domainAllowed(rule: OAuthProviderRule | null, profile: ProviderSignIn['profile']): boolean {
    if (rule === null || rule.allowedEmailDomains.length === 0) return true;
    if (profile.email === null || !profile.emailVerified) return false;
    const domain = profile.email.slice(profile.email.lastIndexOf('@') + 1).toLowerCase();
    return rule.allowedEmailDomains.some((allowed) => allowed.toLowerCase() === domain);
  }

  async function record(
    action: AuditAction,
    outcome: AuditOutcome,
    client: ClientInfo | undefined,
    facts: {
      actor?: string | null;
      target?: string | null;
      metadata?: Record<string, AuditMetadataValue | undefined>;
    },
  ): Promise<void> {
    await audit.record({
      action,
      outcome,
      actorUserId: facts.actor ?? null,
      targetType: facts.target ? 'User' : null,
      targetId: facts.target ?? null,
      ip: client?.ip ?? null,
      userAgent: client?.userAgent ?? null,
      requestId: client?.requestId ?? null,
      ...(facts.metadata ? { metadata: facts.metadata } : {}),
    });
  }

  function accountData(provider: string, { profile, tokens }: ProviderSignIn): OAuthAccountData {
    const aad = providerTokenAad(provider, profile.providerAccountId);
    return {
      provider,
      providerAccountId: profile.providerAccountId,
      email: profile.email,
      emailVerified: profile.emailVerified,
      accessTokenEncrypted: cipher.encrypt(tokens.accessToken, aad),
      refreshTokenEncrypted: tokens.refreshToken === null ? null : cipher.encrypt(tokens.refreshToken, aad),
      tokenExpiresAt: tokens.expiresIn === null ? null : new Date(now().getTime() + tokens.expiresIn * 1000),
      scope: tokens.scope,
    };
  }

  type Resolution =
    | { ok: true; userId: string; isNewUser: boolean; linked: boolean }
    | { ok: false; reason: string; userId: string | null; signedUp?: boolean };

  /** Rules a, c and d (see the top of this file). */
  async function resolveSignIn(
    signIn: ProviderSignIn,
    account: OAuthAccountData,
    retried = false,
  ): Promise<Resolution> {
    const { profile } = signIn;
    const identity = await repository.findIdentity(account.provider, profile.providerAccountId);
    if (identity) {
      await repository.refresh(identity.id, account);
      if (identity.userStatus === 'SUSPENDED' || identity.userStatus === 'DEACTIVATED') {
        return { ok: false, reason: CredentialErrorCode.ACCOUNT_DEACTIVATED, userId: identity.userId };
      }
      if (identity.userStatus === 'PENDING_VERIFICATION' || !identity.userEmailVerified) {
        return { ok: false, reason: CredentialErrorCode.ACCOUNT_NOT_VERIFIED, userId: identity.userId };
      }
      return { ok: true, userId: identity.userId, isNewUser: false, linked: false };
    }

    if (profile.email === null)
      return { ok: false, reason: OAuthErrorCode.OAUTH_EMAIL_REQUIRED, userId: null };
    const existing = await accounts.findByEmail(profile.email);
    if (existing) {
      if (!profile.emailVerified || !existing.emailVerified) {
        return { ok: false, reason: OAuthErrorCode.OAUTH_EMAIL_IN_USE, userId: existing.id };
      }
      if (existing.status === 'SUSPENDED' || existing.status === 'DEACTIVATED') {
        return { ok: false, reason: CredentialErrorCode.ACCOUNT_DEACTIVATED, userId: existing.id };
      }
      const linked = await repository.link(existing.id, account);
      if (linked.status === 'LINKED')
        return { ok: true, userId: existing.id, isNewUser: false, linked: true };
      if (linked.status === 'PROVIDER_TAKEN') {
        return { ok: false, reason: OAuthErrorCode.OAUTH_PROVIDER_ALREADY_LINKED, userId: existing.id };
      }
      if (linked.status === 'IDENTITY_TAKEN' && !retried) return resolveSignIn(signIn, account, true);
      return { ok: false, reason: OAuthErrorCode.OAUTH_EMAIL_IN_USE, userId: existing.id };
    }

    const created = await repository.createUserWithAccount({
      email: profile.email,
      emailVerified: profile.emailVerified,
      displayName: profile.displayName,
      defaultRole: DEFAULT_ROLE,
      account,
      at: now(),
    });
    if (created.status !== 'CREATED') {
      if (!retried) return resolveSignIn(signIn, account, true);
      return { ok: false, reason: OAuthErrorCode.OAUTH_EMAIL_IN_USE, userId: null };
    }
    if (!profile.emailVerified) {
      try {
        await requestEmailVerification(profile.email);
      } catch (err) {
        // The account exists either way; the user can ask for another link.
        logger?.warn(
          { err, userId: created.userId },
          'could not send the verification mail of an OAuth sign-up',
        );
      }
      return {
        ok: false,
        reason: CredentialErrorCode.ACCOUNT_NOT_VERIFIED,
        userId: created.userId,
        signedUp: true,
      };
    }
    return { ok: true, userId: created.userId, isNewUser: true, linked: false };
  }

  function stateError(setCookie: string[] | undefined): OAuthHttpResponse {
    return {
      status: 400,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({
        error: OAuthErrorCode.OAUTH_STATE_INVALID,
        message: 'This sign-in link is invalid or has expired. Please start again.',
      }),
      ...(setCookie ? { setCookie } : {}),
    };
  }

  async function linkAtCallback(
    flow: PendingFlow,
    linkUserId: string,
    account: OAuthAccountData,
    client: ClientInfo,
  ) {
    const linked = await repository.link(linkUserId, account);
    const reason =
      linked.status === 'LINKED'
        ? null
        : linked.status === 'IDENTITY_TAKEN'
          ? OAuthErrorCode.OAUTH_ACCOUNT_LINKED_ELSEWHERE
          : linked.status === 'PROVIDER_TAKEN'
            ? OAuthErrorCode.OAUTH_PROVIDER_ALREADY_LINKED
            : CredentialErrorCode.ACCOUNT_DEACTIVATED;
    await record(AuditAction.OAUTH_ACCOUNT_LINKED, reason ? 'FAILURE' : 'SUCCESS', client, {
      actor: linkUserId,
      target: linkUserId,
      metadata: { provider: flow.provider, ...(reason ? { reason } : {}) },
    });
    return reason;
  }

  async function redeem(code: string, state: string, kind: FlowResult['kind']): Promise<FlowResult> {
    if (!TOKEN_FORMAT.test(code)) {
      throw unauthenticated(OAuthErrorCode.OAUTH_CODE_INVALID, 'The sign-in code is invalid or has expired');
    }
    const result = await store.consumeResult(code);
    if (!result || result.kind !== kind) {
      throw unauthenticated(OAuthErrorCode.OAUTH_CODE_INVALID, 'The sign-in code is invalid or has expired');
    }
    if (!constantTimeEqual(hashToken(state), result.stateHash)) {
      throw unauthenticated(OAuthErrorCode.OAUTH_STATE_INVALID, 'The sign-in was started in another browser');
    }
    return result;
  }

  function linkedAccount(row: {
    provider: string;
    email: string | null;
    emailVerified: boolean;
    linkedAt: Date;
  }) {
    return { ...row, displayName: displayNames.get(row.provider) ?? row.provider };
  }

  return {
    async providers() {
      const offered: OAuthProviderInfo[] = [];
      for (const { key, displayName } of config.providers) {
        if (isSwitchedOn(await ruleOf(key))) offered.push({ key, displayName });
      }
      return offered;
    },

    async start({ provider, redirectUri, linkUserId, binding }) {
      const adapter = adapters.get(provider);
      if (!adapter || !isSwitchedOn(await ruleOf(provider))) {
        throw badInput(OAuthErrorCode.OAUTH_PROVIDER_UNAVAILABLE, 'This sign-in provider is not available');
      }
      if (!allowlist.has(redirectUri)) {
        throw badInput(OAuthErrorCode.OAUTH_REDIRECT_URI_NOT_ALLOWED, 'This redirect URI is not allowed');
      }
      const state = generateToken(32);
      const codeVerifier = generateToken(32);
      const nonce = generateToken(32);
      let prepared;
      try {
        prepared = await adapter.authorizationUrl({
          state,
          redirectUri: callbackUrl(provider),
          codeChallenge: createHash('sha256').update(codeVerifier).digest('base64url'),
          nonce,
        });
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        logger?.warn({ provider, stage: error.stage, problem: error.message }, 'OAuth provider unavailable');
        throw new ServiceUnavailableError('The sign-in provider is not reachable, please try again later', {
          cause: error,
          details: { reason: OAuthErrorCode.OAUTH_PROVIDER_ERROR },
        });
      }
      const browserBinding = binding === 'cookie' ? generateToken(32) : undefined;
      await store.saveFlow(state, {
        provider,
        redirectUri,
        codeVerifier: prepared.usesPkce ? codeVerifier : null,
        nonce: prepared.usesNonce ? nonce : null,
        linkUserId: linkUserId ?? null,
        bindingHash: browserBinding === undefined ? null : hashToken(browserBinding),
        expiresAt: now().getTime() + STATE_TTL_SECONDS * 1000,
      });
      return {
        authorizationUrl: prepared.url,
        state,
        ...(browserBinding === undefined
          ? {}
          : { browserBinding, setCookie: [cookie(browserBinding, STATE_TTL_SECONDS, secureCookie)] }),
      };
    },

    async handleCallback({ provider, query, browserBinding, client }) {
      const failed = (reason: string, metadata: Record<string, AuditMetadataValue | undefined> = {}) =>
        record(AuditAction.OAUTH_LOGIN_FAILED, 'FAILURE', client, {
          metadata: { provider, reason, ...metadata },
        });
      // The binding cookie is single-use like the state: cleared on every answer.
      let setCookie = browserBinding === null ? undefined : [clearCookie];

      const state = query.get('state');
      const flow = state !== null && TOKEN_FORMAT.test(state) ? await store.consumeFlow(state) : null;
      if (state === null || flow === null || flow.provider !== provider) {
        await failed(OAuthErrorCode.OAUTH_STATE_INVALID, {
          detail: flow ? 'OTHER_PROVIDER' : 'UNKNOWN_STATE',
        });
        return stateError(setCookie);
      }
      if (flow.bindingHash !== null) {
        setCookie = [clearCookie];
        if (browserBinding === null || !constantTimeEqual(hashToken(browserBinding), flow.bindingHash)) {
          await failed(OAuthErrorCode.OAUTH_STATE_INVALID, { detail: 'BROWSER_MISMATCH' });
          return stateError(setCookie);
        }
      }

      const back = (params: Record<string, string>): OAuthHttpResponse => {
        const location = new URL(flow.redirectUri);
        for (const [key, value] of Object.entries(params)) location.searchParams.set(key, value);
        location.searchParams.set('state', state);
        return { status: 302, location: location.toString(), ...(setCookie ? { setCookie } : {}) };
      };
      const linkUserId = flow.linkUserId;
      const failAction = linkUserId ? AuditAction.OAUTH_ACCOUNT_LINKED : AuditAction.OAUTH_LOGIN_FAILED;
      const providerFailed = async (
        reason: string,
        metadata: Record<string, AuditMetadataValue | undefined>,
      ) => {
        await record(failAction, 'FAILURE', client, {
          actor: linkUserId,
          target: linkUserId,
          metadata: { provider, reason, ...metadata },
        });
        return back({ error: reason });
      };

      const adapter: ProviderAdapter | undefined = adapters.get(provider);
      const providerErrorParam = query.get('error');
      if (providerErrorParam !== null || !adapter) {
        const denied = providerErrorParam === 'access_denied';
        return providerFailed(
          denied ? OAuthErrorCode.OAUTH_CONSENT_DENIED : OAuthErrorCode.OAUTH_PROVIDER_ERROR,
          {
            providerCode:
              providerErrorParam && /^[a-z_]{1,64}$/.test(providerErrorParam)
                ? providerErrorParam
                : undefined,
          },
        );
      }
      // Switched off while the browser was at the provider: the flow ends here, before any token exchange.
      const rule = await ruleOf(provider);
      if (!isSwitchedOn(rule)) return providerFailed(OAuthErrorCode.OAUTH_PROVIDER_UNAVAILABLE, {});
      const code = query.get('code');
      if (!code) return providerFailed(OAuthErrorCode.OAUTH_PROVIDER_ERROR, { stage: 'callback' });

      let signIn: ProviderSignIn;
      try {
        signIn = await adapter.exchange({
          code,
          redirectUri: callbackUrl(provider),
          codeVerifier: flow.codeVerifier,
          nonce: flow.nonce,
          callbackParams: query,
        });
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        logger?.warn(
          // The message only, not the error: its cause (a jose error) can carry the ID token's claims.
          { provider, stage: error.stage, providerCode: error.providerCode, problem: error.message },
          'OAuth provider sign-in failed',
        );
        return providerFailed(OAuthErrorCode.OAUTH_PROVIDER_ERROR, {
          stage: error.stage,
          providerCode: error.providerCode ?? undefined,
        });
      }
      if (!domainAllowed(rule, signIn.profile)) {
        return providerFailed(OAuthErrorCode.OAUTH_EMAIL_DOMAIN_NOT_ALLOWED, {
          emailVerified: signIn.profile.emailVerified,
        });
      }
      const account = accountData(provider, signIn);

      if (linkUserId !== null) {
        if (linkCompletion === 'app') {
          const resultCode = generateToken(32);
          await store.saveResult(resultCode, {
            kind: 'link',
            linkUserId,
            provider,
            account: JSON.stringify(account),
            stateHash: hashToken(state),
            expiresAt: now().getTime() + RESULT_CODE_TTL_SECONDS * 1000,
          });
          return back({ code: resultCode });
        }
        const reason = await linkAtCallback(flow, linkUserId, account, client);
        return back(reason ? { error: reason } : { linked: provider });
      }

      const resolution = await resolveSignIn(signIn, account);
      if (!resolution.ok) {
        if (resolution.signedUp) {
          await record(AuditAction.OAUTH_SIGN_UP, 'SUCCESS', client, {
            actor: resolution.userId,
            target: resolution.userId,
            metadata: { provider, emailVerified: false },
          });
        } else {
          await record(AuditAction.OAUTH_LOGIN_FAILED, 'FAILURE', client, {
            target: resolution.userId,
            metadata: { provider, reason: resolution.reason },
          });
        }
        return back({ error: resolution.reason });
      }
      if (resolution.isNewUser) {
        await record(AuditAction.OAUTH_SIGN_UP, 'SUCCESS', client, {
          actor: resolution.userId,
          target: resolution.userId,
          metadata: { provider, emailVerified: true },
        });
      }
      if (resolution.linked) {
        await record(AuditAction.OAUTH_ACCOUNT_LINKED, 'SUCCESS', client, {
          actor: resolution.userId,
          target: resolution.userId,
          metadata: { provider, automatic: true },
        });
      }
      await record(AuditAction.OAUTH_LOGIN_SUCCEEDED, 'SUCCESS', client, {
        actor: resolution.userId,
        target: resolution.userId,
        metadata: { provider, isNewUser: resolution.isNewUser },
      });
      const resultCode = generateToken(32);
      await store.saveResult(resultCode, {
        kind: 'sign-in',
        userId: resolution.userId,
        provider,
        isNewUser: resolution.isNewUser,
        stateHash: hashToken(state),
        bindingHash: flow.bindingHash,
        expiresAt: now().getTime() + RESULT_CODE_TTL_SECONDS * 1000,
      });
      if (flow.bindingHash !== null && browserBinding !== null) {
        // The state travels in the redirect, so it binds nothing: the completion needs this browser's cookie.
        setCookie = [
          clearCookie,
          cookie(
            browserBinding,
            RESULT_CODE_TTL_SECONDS,
            secureCookie,
            COMPLETION_COOKIE,
            COMPLETION_COOKIE_PATH,
          ),
        ];
      }
      return back({ code: resultCode });
    },

    async completeSignIn(code, state, client, browserBinding) {
      let result: FlowResult;
      try {
        result = await redeem(code, state, 'sign-in');
        const bindingHash = result.kind === 'sign-in' ? (result.bindingHash ?? null) : null;
        // The code is burnt either way (redeem consumed it): a forwarded redirect cannot be retried elsewhere.
        if (
          bindingHash !== null &&
          (!browserBinding || !constantTimeEqual(hashToken(browserBinding), bindingHash))
        ) {
          throw unauthenticated(
            OAuthErrorCode.OAUTH_STATE_INVALID,
            'The sign-in was started in another browser',
          );
        }
      } catch (error) {
        const reason = ((error as AppError).details as { reason: string }).reason;
        await record(AuditAction.OAUTH_LOGIN_FAILED, 'FAILURE', client, {
          metadata: { reason, stage: 'complete' },
        });
        throw error;
      }
      if (result.kind !== 'sign-in') throw new Error('unreachable: redeem checks the kind');
      return { userId: result.userId, provider: result.provider, isNewUser: result.isNewUser };
    },

    async completeLink(code, state, userId, client) {
      const result = await redeem(code, state, 'link');
      if (result.kind !== 'link') throw new Error('unreachable: redeem checks the kind');
      if (result.linkUserId !== userId) {
        throw unauthenticated(OAuthErrorCode.OAUTH_STATE_INVALID, 'This link was started by another user');
      }
      const account = JSON.parse(result.account) as OAuthAccountData & { tokenExpiresAt: string | null };
      const data: OAuthAccountData = {
        ...account,
        tokenExpiresAt: account.tokenExpiresAt === null ? null : new Date(account.tokenExpiresAt),
      };
      const linked = await repository.link(userId, data);
      if (linked.status === 'LINKED') {
        await record(AuditAction.OAUTH_ACCOUNT_LINKED, 'SUCCESS', client, {
          actor: userId,
          target: userId,
          metadata: { provider: result.provider },
        });
        return linkedAccount({
          provider: data.provider,
          email: data.email,
          emailVerified: data.emailVerified,
          linkedAt: linked.linkedAt,
        });
      }
      const reason =
        linked.status === 'IDENTITY_TAKEN'
          ? OAuthErrorCode.OAUTH_ACCOUNT_LINKED_ELSEWHERE
          : OAuthErrorCode.OAUTH_PROVIDER_ALREADY_LINKED;
      await record(AuditAction.OAUTH_ACCOUNT_LINKED, 'FAILURE', client, {
        actor: userId,
        target: userId,
        metadata: { provider: result.provider, reason },
      });
      throw new ConflictError(
        reason === OAuthErrorCode.OAUTH_ACCOUNT_LINKED_ELSEWHERE
          ? 'This provider account is linked to another user'
          : 'An account of this provider is already linked',
        { details: { reason } },
      );
    },

    async listLinked(userId) {
      return (await repository.listForUser(userId)).map(linkedAccount);
    },

    async unlink(userId, provider, client) {
      const outcome = await repository.unlink(userId, provider);
      await record(
        AuditAction.OAUTH_ACCOUNT_UNLINKED,
        outcome === 'UNLINKED' ? 'SUCCESS' : 'FAILURE',
        client,
        {
          actor: userId,
          target: userId,
          metadata: {
            provider: PROVIDER_KEY.test(provider) ? provider : 'invalid',
            ...(outcome === 'UNLINKED'
              ? {}
              : {
                  reason:
                    outcome === 'NOT_FOUND'
                      ? OAuthErrorCode.OAUTH_ACCOUNT_NOT_FOUND
                      : OAuthErrorCode.OAUTH_LAST_SIGN_IN_METHOD,
                }),
          },
        },
      );
      if (outcome === 'NOT_FOUND') {
        throw new NotFoundError('No account of this provider is linked', {
          details: { reason: OAuthErrorCode.OAUTH_ACCOUNT_NOT_FOUND },
        });
      }
      if (outcome === 'LAST_SIGN_IN_METHOD') {
        throw badInput(
          OAuthErrorCode.OAUTH_LAST_SIGN_IN_METHOD,
          'Set a password or link another provider before unlinking this one',
        );
      }
    },
  };
}
