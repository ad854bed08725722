/**
 * Reasons of the OAuth module: `extensions.details.reason` of GraphQL errors, and the `error` query parameter of
 * the redirect back to the app after a provider callback. Stable across releases: clients switch on them.
 * (The callback also uses the credential codes ACCOUNT_NOT_VERIFIED and ACCOUNT_DEACTIVATED.)
 */
export const OAuthErrorCode = {
  /** The provider is not configured on this deployment, is switched off (`oauth.providers`), or the key is unknown. */
  OAUTH_PROVIDER_UNAVAILABLE: 'OAUTH_PROVIDER_UNAVAILABLE',
  /**
   * The provider's e-mail address is not of a domain the `oauth.providers` setting allows for this provider (or
   * the provider did not verify it, so its domain proves nothing).
   */
  OAUTH_EMAIL_DOMAIN_NOT_ALLOWED: 'OAUTH_EMAIL_DOMAIN_NOT_ALLOWED',
  /** The app's redirect URI is not on OAUTH_REDIRECT_ALLOWLIST (exact match). */
  OAUTH_REDIRECT_URI_NOT_ALLOWED: 'OAUTH_REDIRECT_URI_NOT_ALLOWED',
  /**
   * The state is unknown, expired (10 minutes), already used, for another provider, not this browser's (cookie),
   * or not the state the result code was minted for; or `completeOAuthLogin` of a flow started with
   * `GET /auth/oauth/<provider>/start` came without that browser's `gatehouse_oauth_result` cookie (issue #14:
   * a forwarded final redirect). Start again.
   */
  OAUTH_STATE_INVALID: 'OAUTH_STATE_INVALID',
  /** The one-time result code is malformed, unknown, expired (2 minutes) or already used. */
  OAUTH_CODE_INVALID: 'OAUTH_CODE_INVALID',
  /** The user cancelled at the provider (`error=access_denied`). */
  OAUTH_CONSENT_DENIED: 'OAUTH_CONSENT_DENIED',
  /** The provider answered with an error, or its token, ID token or profile could not be obtained or trusted. */
  OAUTH_PROVIDER_ERROR: 'OAUTH_PROVIDER_ERROR',
  /** A new account needs an e-mail address and the provider gave none. */
  OAUTH_EMAIL_REQUIRED: 'OAUTH_EMAIL_REQUIRED',
  /**
   * An account with the provider's e-mail address exists, and it was not linked automatically (the provider or
   * the account has not verified the address): sign in with the password, then link the provider in settings.
   */
  OAUTH_EMAIL_IN_USE: 'OAUTH_EMAIL_IN_USE',
  /** This provider identity is already linked to another user. */
  OAUTH_ACCOUNT_LINKED_ELSEWHERE: 'OAUTH_ACCOUNT_LINKED_ELSEWHERE',
  /** The user already has an account of this provider linked (one per provider). */
  OAUTH_PROVIDER_ALREADY_LINKED: 'OAUTH_PROVIDER_ALREADY_LINKED',
  /** Unlinking would leave the user without a password and without any linked provider. */
  OAUTH_LAST_SIGN_IN_METHOD: 'OAUTH_LAST_SIGN_IN_METHOD',
  /** The user has no account of this provider linked. */
  OAUTH_ACCOUNT_NOT_FOUND: 'OAUTH_ACCOUNT_NOT_FOUND',
} as const;

export type OAuthErrorCode = (typeof OAuthErrorCode)[keyof typeof OAuthErrorCode];
