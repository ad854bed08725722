export {
  FACEBOOK_DEFAULTS,
  GITHUB_DEFAULTS,
  GOOGLE_ISSUER,
  loadOAuthConfig,
  oauthConcern,
  type FacebookProviderConfig,
  type GitHubProviderConfig,
  type OAuthConfig,
  type OAuthProviderConfig,
  type OAuthProviderKind,
  type OidcProviderConfig,
} from './config';
export { OAuthErrorCode } from './error-codes';
export {
  createOAuthAccountRepository,
  type OAuthAccountRepository,
  type OAuthAccountSummary,
} from './oauth-account.repository';
export { RESULT_CODE_TTL_SECONDS, STATE_TTL_SECONDS } from './oauth-state';
export { createOAuthRoutes, readCookie, type OAuthRoutesOptions } from './oauth.routes';
export {
  BINDING_COOKIE,
  COMPLETION_COOKIE,
  createOAuthService,
  providerTokenAad,
  type LinkedOAuthAccount,
  type OAuthCallbackInput,
  type OAuthHttpResponse,
  type OAuthProviderInfo,
  type OAuthProviderRule,
  type OAuthProviderRules,
  type OAuthService,
  type OAuthServiceOptions,
  type OAuthSignInResult,
  type StartedOAuth,
  type StartOAuthInput,
} from './oauth.service';
