/**
 * What the OAuth steps share (cookies, provider rules, audit, provider token storage, result codes), built once
 * per service from its options. The steps live by stage: oauth-start.ts (start and state), oauth-callback.ts
 * (callback and account resolution), oauth-linking.ts (linking); oauth.service.ts composes them.
 */
import { constantTimeEqual, hashToken } from '@gatehouse/crypto';
import { AppError, AuthenticationError, ErrorCode } from '@gatehouse/errors';
import type { AuditAction, AuditMetadataValue, AuditOutcome } from '../audit';
import type { ClientInfo } from '../client-info';
import { OAuthErrorCode } from './error-codes';
import type { OAuthAccountData } from './oauth-account.repository';
import { createOAuthStateStore, type FlowResult } from './oauth-state';
import { createProviderAdapters, type ProviderSignIn } from './providers';
import type { OAuthHttpResponse, OAuthProviderRule, OAuthServiceOptions } from './oauth.service';

/** `GET /auth/oauth/<provider>/start` sets this cookie; the callback compares it with the flow's binding. */
export const BINDING_COOKIE = 'gatehouse_oauth';
export const COOKIE_PATH = '/auth/oauth';
/**
 * The callback of a REST-started flow hands the same binding value on in this cookie, scoped to `/graphql` and
 * as short-lived as the result code: `completeOAuthLogin` redeems that flow's code only with it (the gateway
 * forwards this one cookie to identity). The final redirect alone, forwarded to another browser, is refused.
 */
export const COMPLETION_COOKIE = 'gatehouse_oauth_result';
export const COMPLETION_COOKIE_PATH = '/graphql';
export const DEFAULT_ROLE = 'member';
/** generateToken(32): 43 base64url characters; anything else is refused without a lookup. */
export const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
export const PROVIDER_KEY = /^[a-z0-9-]{1,64}$/;

/** The associated data binding a stored provider token to its identity (pass it to `cipher.decrypt`). */
export function providerTokenAad(provider: string, providerAccountId: string): string {
  return `oauth-token:${provider}:${providerAccountId}`;
}

export const badInput = (reason: string, message: string) =>
  new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
export const unauthenticated = (reason: string, message: string) =>
  new AuthenticationError(message, { details: { reason } });

export function cookie(
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

/** The shared steps and dependencies of the OAuth flows; see {@link createOAuthToolkit}. */
export type OAuthToolkit = ReturnType<typeof createOAuthToolkit>;

export function createOAuthToolkit(options: OAuthServiceOptions) {
  const { kv, cipher, audit, config, requestEmailVerification, logger } = options;
  const now = options.now ?? (() => new Date());
  const { accounts, repository } = options;
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
    options,
    kv,
    cipher,
    config,
    requestEmailVerification,
    logger,
    now,
    accounts,
    repository,
    linkCompletion,
    store,
    adapters,
    allowlist,
    secureCookie,
    clearCookie,
    callbackUrl,
    ruleOf,
    isSwitchedOn,
    domainAllowed,
    record,
    accountData,
    stateError,
    redeem,
    linkedAccount,
  };
}
