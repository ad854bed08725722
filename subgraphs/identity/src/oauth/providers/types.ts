import type { TokenResponse } from './provider-http';

/** Who the provider says signed in. */
export interface ProviderProfile {
  /** The provider's stable subject id (`sub`, GitHub's numeric id, Facebook's app-scoped id). */
  providerAccountId: string;
  /** Lower-cased and validated; null when the provider gave none (or nothing that is an address). */
  email: string | null;
  /** Only true when the provider asserted it verified `email`. */
  emailVerified: boolean;
  displayName: string | null;
}

/** What the authorization request asks the adapter to include. */
export interface AuthorizationRequest {
  state: string;
  /** `${OAUTH_CALLBACK_BASE_URL}/auth/oauth/<provider>/callback`. */
  redirectUri: string;
  /** S256 of the flow's code verifier. */
  codeChallenge: string;
  nonce: string;
}

export interface PreparedAuthorization {
  url: string;
  /** Whether the challenge was sent: the verifier is then required at the token endpoint. */
  usesPkce: boolean;
  /** Whether the nonce was sent: the ID token must then carry it. */
  usesNonce: boolean;
}

export interface CodeExchange {
  code: string;
  redirectUri: string;
  codeVerifier: string | null;
  nonce: string | null;
  /** The whole callback query, for checks such as RFC 9207's `iss`. */
  callbackParams: URLSearchParams;
}

export interface ProviderSignIn {
  profile: ProviderProfile;
  tokens: TokenResponse;
}

/** One configured provider. Methods throw ProviderError for anything the provider did wrong. */
export interface ProviderAdapter {
  key: string;
  displayName: string;
  authorizationUrl(request: AuthorizationRequest): Promise<PreparedAuthorization>;
  /** Exchanges the code, verifies what must be verified (ID token) and fetches the profile. */
  exchange(exchange: CodeExchange): Promise<ProviderSignIn>;
}
