import { loadConfig, type Environment } from '@gatehouse/config';
import { z } from 'zod';

/** Built-in providers besides configured OpenID Connect ones (`oidc-<name>`). */
export type OAuthProviderKind = 'oidc' | 'github' | 'facebook';

interface ProviderBase {
  /** `google`, `github`, `facebook` or `oidc-<name>`: the route segment and `oauth_accounts.provider`. */
  key: string;
  displayName: string;
  clientId: string;
  clientSecret: string;
  scopes: string[];
}

/** An OpenID Connect provider, found through issuer discovery (Google is one). */
export interface OidcProviderConfig extends ProviderBase {
  kind: 'oidc';
  /** Exactly as the discovery document's `issuer` must read. */
  issuer: string;
  /** `iss` values accepted in ID tokens: the issuer, plus `accounts.google.com` for Google (which uses both). */
  acceptedIssuers: string[];
}

export interface GitHubProviderConfig extends ProviderBase {
  kind: 'github';
  authorizeUrl: string;
  tokenUrl: string;
  apiUrl: string;
}

export interface FacebookProviderConfig extends ProviderBase {
  kind: 'facebook';
  authorizeUrl: string;
  tokenUrl: string;
  graphUrl: string;
}

export type OAuthProviderConfig = OidcProviderConfig | GitHubProviderConfig | FacebookProviderConfig;

/** The parsed `oauth` concern. */
export interface OAuthConfig {
  /** Configured providers only (a provider without client id and secret is not offered), in display order. */
  providers: OAuthProviderConfig[];
  /** Exact URLs the app may ask to be sent back to after a provider sign-in. */
  redirectAllowlist: string[];
  /** Public base URL of the gateway, no trailing slash; null only when no provider is configured. */
  callbackBaseUrl: string | null;
}

export const GOOGLE_ISSUER = 'https://accounts.google.com';
export const GITHUB_DEFAULTS = {
  authorizeUrl: 'https://github.com/login/oauth/authorize',
  tokenUrl: 'https://github.com/login/oauth/access_token',
  apiUrl: 'https://api.github.com',
} as const;
export const FACEBOOK_DEFAULTS = {
  authorizeUrl: 'https://www.facebook.com/v19.0/dialog/oauth',
  tokenUrl: 'https://graph.facebook.com/v19.0/oauth/access_token',
  graphUrl: 'https://graph.facebook.com/v19.0',
} as const;

const OIDC_DEFAULT_SCOPES = ['openid', 'email', 'profile'];
/** `read:user` for the profile, `user:email` for `/user/emails` (the verified flags). */
const GITHUB_SCOPES = ['read:user', 'user:email'];
const FACEBOOK_SCOPES = ['email', 'public_profile'];
/** Lower-case letters, digits and inner hyphens; keeps `oidc-<name>` within the 64-character provider column. */
const OIDC_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const MAX_OIDC_NAME_LENGTH = 40;

const URL_MESSAGE = 'must be an http:// or https:// URL';

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const optionalText = z.string().trim().min(1).optional();
const withoutTrailingSlash = (value: string) => value.replace(/\/+$/, '');

/**
 * Social sign-in (GOOGLE_*, GITHUB_*, FACEBOOK_*, OIDC_PROVIDERS with OIDC_<NAME>_*, OAUTH_REDIRECT_ALLOWLIST,
 * OAUTH_CALLBACK_BASE_URL). A provider is offered when both its client id and secret are set; only one of them
 * is an error naming the missing variable. Endpoint URLs default to the providers' documented ones (tests point
 * them at local fakes). A configured provider needs OAUTH_CALLBACK_BASE_URL and OAUTH_REDIRECT_ALLOWLIST.
 */
export const oauthConcern = z
  .object({
    GOOGLE_CLIENT_ID: optionalText,
    GOOGLE_CLIENT_SECRET: optionalText,
    GOOGLE_ISSUER: optionalText,
    GITHUB_CLIENT_ID: optionalText,
    GITHUB_CLIENT_SECRET: optionalText,
    GITHUB_AUTHORIZE_URL: optionalText,
    GITHUB_TOKEN_URL: optionalText,
    GITHUB_API_URL: optionalText,
    FACEBOOK_CLIENT_ID: optionalText,
    FACEBOOK_CLIENT_SECRET: optionalText,
    FACEBOOK_AUTHORIZE_URL: optionalText,
    FACEBOOK_TOKEN_URL: optionalText,
    FACEBOOK_GRAPH_URL: optionalText,
    /** Comma-separated names; each needs OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET (NAME upper-cased, - as _). */
    OIDC_PROVIDERS: optionalText,
    /** Comma-separated exact URLs of the app's OAuth landing page(s). */
    OAUTH_REDIRECT_ALLOWLIST: optionalText,
    /** Where browsers reach the gateway; provider callbacks are `${this}/auth/oauth/<provider>/callback`. */
    OAUTH_CALLBACK_BASE_URL: optionalText,
  })
  // Keeps the other variables: OIDC_<NAME>_* are named by OIDC_PROVIDERS.
  .catchall(z.string().optional())
  .transform((env, ctx): OAuthConfig => {
    const issue = (variable: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [variable], message });
    const providers: OAuthProviderConfig[] = [];
    /** URLs are checked here rather than per field, so one run reports every problem (zod skips the transform). */
    function httpUrl(variable: string, fallback: string): string {
      const value = text(env[variable]) ?? fallback;
      if (isHttpUrl(value)) return value;
      issue(variable, URL_MESSAGE);
      return fallback;
    }
    const urls = {
      googleIssuer: withoutTrailingSlash(httpUrl('GOOGLE_ISSUER', GOOGLE_ISSUER)),
      githubAuthorize: httpUrl('GITHUB_AUTHORIZE_URL', GITHUB_DEFAULTS.authorizeUrl),
      githubToken: httpUrl('GITHUB_TOKEN_URL', GITHUB_DEFAULTS.tokenUrl),
      githubApi: withoutTrailingSlash(httpUrl('GITHUB_API_URL', GITHUB_DEFAULTS.apiUrl)),
      facebookAuthorize: httpUrl('FACEBOOK_AUTHORIZE_URL', FACEBOOK_DEFAULTS.authorizeUrl),
      facebookToken: httpUrl('FACEBOOK_TOKEN_URL', FACEBOOK_DEFAULTS.tokenUrl),
      facebookGraph: withoutTrailingSlash(httpUrl('FACEBOOK_GRAPH_URL', FACEBOOK_DEFAULTS.graphUrl)),
    };

    /** Both or neither of `<PREFIX>_CLIENT_ID` / `_CLIENT_SECRET`; null when the provider is not configured. */
    function credentials(prefix: string): { clientId: string; clientSecret: string } | null {
      const clientId = text(env[`${prefix}_CLIENT_ID`]);
      const clientSecret = text(env[`${prefix}_CLIENT_SECRET`]);
      if (clientId && clientSecret) return { clientId, clientSecret };
      if (clientId) issue(`${prefix}_CLIENT_SECRET`, `is required when ${prefix}_CLIENT_ID is set`);
      if (clientSecret) issue(`${prefix}_CLIENT_ID`, `is required when ${prefix}_CLIENT_SECRET is set`);
      return null;
    }

    const google = credentials('GOOGLE');
    if (google) {
      const issuer = urls.googleIssuer;
      providers.push({
        kind: 'oidc',
        key: 'google',
        displayName: 'Google',
        ...google,
        issuer,
        // Google's ID tokens carry either form (https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken).
        acceptedIssuers: issuer === GOOGLE_ISSUER ? [issuer, 'accounts.google.com'] : [issuer],
        scopes: OIDC_DEFAULT_SCOPES,
      });
    }
    const github = credentials('GITHUB');
    if (github) {
      providers.push({
        kind: 'github',
        key: 'github',
        displayName: 'GitHub',
        ...github,
        authorizeUrl: urls.githubAuthorize,
        tokenUrl: urls.githubToken,
        apiUrl: urls.githubApi,
        scopes: GITHUB_SCOPES,
      });
    }
    const facebook = credentials('FACEBOOK');
    if (facebook) {
      providers.push({
        kind: 'facebook',
        key: 'facebook',
        displayName: 'Facebook',
        ...facebook,
        authorizeUrl: urls.facebookAuthorize,
        tokenUrl: urls.facebookToken,
        graphUrl: urls.facebookGraph,
        scopes: FACEBOOK_SCOPES,
      });
    }

    const seen = new Set<string>();
    for (const rawName of list(env.OIDC_PROVIDERS)) {
      const name = rawName.toLowerCase();
      if (!OIDC_NAME.test(name) || name.length > MAX_OIDC_NAME_LENGTH) {
        issue(
          'OIDC_PROVIDERS',
          `names must be letters, digits and inner hyphens, at most ${MAX_OIDC_NAME_LENGTH} characters`,
        );
        continue;
      }
      if (seen.has(name)) {
        issue('OIDC_PROVIDERS', `lists "${name}" twice`);
        continue;
      }
      seen.add(name);
      const prefix = `OIDC_${name.toUpperCase().replace(/-/g, '_')}`;
      const issuerVariable = `${prefix}_ISSUER`;
      const rawIssuer = text(env[issuerVariable]);
      if (!rawIssuer) issue(issuerVariable, `is required for the OIDC provider "${name}"`);
      else if (!isHttpUrl(rawIssuer)) issue(issuerVariable, URL_MESSAGE);
      const creds = credentials(prefix);
      if (!creds) {
        if (!text(env[`${prefix}_CLIENT_ID`]) && !text(env[`${prefix}_CLIENT_SECRET`])) {
          issue(`${prefix}_CLIENT_ID`, `is required for the OIDC provider "${name}"`);
          issue(`${prefix}_CLIENT_SECRET`, `is required for the OIDC provider "${name}"`);
        }
        continue;
      }
      const scopesText = text(env[`${prefix}_SCOPES`]);
      const scopes = scopesText ? scopesText.split(/[\s,]+/).filter(Boolean) : OIDC_DEFAULT_SCOPES;
      if (!scopes.includes('openid')) issue(`${prefix}_SCOPES`, 'must include openid');
      if (!rawIssuer || !isHttpUrl(rawIssuer)) continue;
      const issuer = withoutTrailingSlash(rawIssuer);
      providers.push({
        kind: 'oidc',
        key: `oidc-${name}`,
        displayName: text(env[`${prefix}_DISPLAY_NAME`]) ?? rawName,
        ...creds,
        issuer,
        acceptedIssuers: [issuer],
        scopes,
      });
    }

    const redirectAllowlist = list(env.OAUTH_REDIRECT_ALLOWLIST);
    for (const entry of redirectAllowlist) {
      if (!isHttpUrl(entry) || new URL(entry).hash !== '') {
        issue(
          'OAUTH_REDIRECT_ALLOWLIST',
          'must be comma-separated http:// or https:// URLs without a #fragment',
        );
        break;
      }
    }
    const callbackBaseUrl = env.OAUTH_CALLBACK_BASE_URL
      ? withoutTrailingSlash(env.OAUTH_CALLBACK_BASE_URL)
      : null;
    if (providers.length > 0) {
      if (!callbackBaseUrl)
        issue('OAUTH_CALLBACK_BASE_URL', 'is required when an OAuth provider is configured');
      if (redirectAllowlist.length === 0) {
        issue('OAUTH_REDIRECT_ALLOWLIST', 'is required when an OAuth provider is configured');
      }
    }
    return { providers, redirectAllowlist, callbackBaseUrl };
  });

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function list(value: unknown): string[] {
  return (text(value) ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** The `oauth` concern alone (tests, tools). @throws ConfigError naming every wrong variable. */
export function loadOAuthConfig(env: Environment = process.env): OAuthConfig {
  return loadConfig({ oauth: oauthConcern }, env).oauth;
}
