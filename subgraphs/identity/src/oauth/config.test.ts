import { ConfigError } from '@gatehouse/config';
import { FACEBOOK_DEFAULTS, GITHUB_DEFAULTS, GOOGLE_ISSUER, loadOAuthConfig } from './config';

const base = {
  OAUTH_CALLBACK_BASE_URL: 'https://id.example.com/',
  OAUTH_REDIRECT_ALLOWLIST: 'https://app.example.com/oauth',
};

function issues(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadOAuthConfig(env);
  } catch (error) {
    if (error instanceof ConfigError)
      return [...error.issues].sort((a, b) => a.variable.localeCompare(b.variable));
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('oauth configuration', () => {
  it('offers nothing by default and needs nothing then', () => {
    expect(loadOAuthConfig({})).toEqual({ providers: [], redirectAllowlist: [], callbackBaseUrl: null });
  });

  it('offers the providers with both client id and secret, with documented endpoints by default', () => {
    const config = loadOAuthConfig({
      ...base,
      GOOGLE_CLIENT_ID: 'g',
      GOOGLE_CLIENT_SECRET: 'gs',
      GITHUB_CLIENT_ID: 'h',
      GITHUB_CLIENT_SECRET: 'hs',
      FACEBOOK_CLIENT_ID: 'f',
      FACEBOOK_CLIENT_SECRET: 'fs',
      OAUTH_REDIRECT_ALLOWLIST: 'https://app.example.com/oauth, http://localhost:5173/oauth',
    });
    expect(config.callbackBaseUrl).toBe('https://id.example.com');
    expect(config.redirectAllowlist).toEqual([
      'https://app.example.com/oauth',
      'http://localhost:5173/oauth',
    ]);
    expect(config.providers).toEqual([
      {
        kind: 'oidc',
        key: 'google',
        displayName: 'Google',
        clientId: 'g',
        clientSecret: 'gs',
        issuer: GOOGLE_ISSUER,
        acceptedIssuers: [GOOGLE_ISSUER, 'accounts.google.com'],
        scopes: ['openid', 'email', 'profile'],
      },
      expect.objectContaining({
        kind: 'github',
        key: 'github',
        ...GITHUB_DEFAULTS,
        scopes: ['read:user', 'user:email'],
      }),
      expect.objectContaining({ kind: 'facebook', key: 'facebook', ...FACEBOOK_DEFAULTS }),
    ]);
  });

  it('reads OpenID Connect providers from OIDC_PROVIDERS', () => {
    const { providers } = loadOAuthConfig({
      ...base,
      OIDC_PROVIDERS: 'okta, Corp-SSO',
      OIDC_OKTA_ISSUER: 'https://example.okta.com/',
      OIDC_OKTA_CLIENT_ID: 'o',
      OIDC_OKTA_CLIENT_SECRET: 'os',
      OIDC_CORP_SSO_ISSUER: 'https://sso.corp.example',
      OIDC_CORP_SSO_CLIENT_ID: 'c',
      OIDC_CORP_SSO_CLIENT_SECRET: 'cs',
      OIDC_CORP_SSO_DISPLAY_NAME: 'Corporate login',
      OIDC_CORP_SSO_SCOPES: 'openid email groups',
    });
    expect(providers).toEqual([
      expect.objectContaining({
        kind: 'oidc',
        key: 'oidc-okta',
        displayName: 'okta',
        issuer: 'https://example.okta.com',
        acceptedIssuers: ['https://example.okta.com'],
      }),
      expect.objectContaining({
        key: 'oidc-corp-sso',
        displayName: 'Corporate login',
        scopes: ['openid', 'email', 'groups'],
      }),
    ]);
  });

  it('names every wrong variable at once', () => {
    expect(
      issues({
        GOOGLE_CLIENT_ID: 'g',
        GITHUB_CLIENT_SECRET: 'hs',
        GITHUB_TOKEN_URL: 'ftp://github.example',
        OIDC_PROVIDERS: 'acme,bad_name!,acme',
        OIDC_ACME_CLIENT_ID: 'a',
        OIDC_ACME_SCOPES: 'email',
      }),
    ).toEqual([
      { variable: 'GITHUB_CLIENT_ID', message: 'is required when GITHUB_CLIENT_SECRET is set' },
      { variable: 'GITHUB_TOKEN_URL', message: 'must be an http:// or https:// URL' },
      { variable: 'GOOGLE_CLIENT_SECRET', message: 'is required when GOOGLE_CLIENT_ID is set' },
      { variable: 'OIDC_ACME_CLIENT_SECRET', message: 'is required when OIDC_ACME_CLIENT_ID is set' },
      { variable: 'OIDC_ACME_ISSUER', message: 'is required for the OIDC provider "acme"' },
      expect.objectContaining({ variable: 'OIDC_PROVIDERS' }),
      expect.objectContaining({ variable: 'OIDC_PROVIDERS' }),
    ]);
  });

  it('needs the callback base URL and an allow-list once a provider is configured', () => {
    expect(
      issues({
        GITHUB_CLIENT_ID: 'h',
        GITHUB_CLIENT_SECRET: 'hs',
        OAUTH_REDIRECT_ALLOWLIST: 'https://x.test/#frag',
      }),
    ).toEqual([
      { variable: 'OAUTH_CALLBACK_BASE_URL', message: 'is required when an OAuth provider is configured' },
      expect.objectContaining({
        variable: 'OAUTH_REDIRECT_ALLOWLIST',
        message: expect.stringContaining('#fragment'),
      }),
    ]);
  });

  it('never repeats a secret in its messages', () => {
    const messages = JSON.stringify(
      issues({ GOOGLE_CLIENT_SECRET: 'super-secret-value', GITHUB_API_URL: 'not a url' }),
    );
    expect(messages).not.toContain('super-secret-value');
    expect(messages).not.toContain('not a url');
  });
});
