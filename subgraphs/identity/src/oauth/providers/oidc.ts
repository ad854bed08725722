import { constantTimeEqual } from '@gatehouse/crypto';
import {
  createRemoteJWKSet,
  customFetch,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { OidcProviderConfig } from '../config';
import {
  ProviderError,
  expectProfileObject,
  isObject,
  parseTokenResponse,
  providerRequest,
  type ProviderHttp,
} from './provider-http';
import { isTrue, normalizeDisplayName, normalizeProviderEmail } from './profile';
import type { ProviderAdapter } from './types';

/** The parts of an OpenID Provider's discovery document we use. */
interface Discovery {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userinfoEndpoint: string | null;
  jwks: JWTVerifyGetKey;
  /** S256 advertised, or no methods advertised at all (then we still send it: unknown parameters are ignored). */
  pkce: boolean;
  tokenAuth: 'client_secret_basic' | 'client_secret_post';
  /** RFC 9207: authorization responses carry `iss`, which must then be present and right. */
  issParameter: boolean;
}

export interface OidcAdapterOptions {
  http: ProviderHttp;
  now: () => Date;
  /** How long a fetched discovery document is used. Default 1 hour. */
  discoveryTtlMs?: number;
}

/** Asymmetric signatures only: an HS256 ID token keyed by the client secret is not accepted. */
const ID_TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
const CLOCK_TOLERANCE_SECONDS = 60;

function httpUrlOrNull(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : null;
  } catch {
    return null;
  }
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/**
 * A standards-compliant OpenID Connect provider (Google, or `oidc-<name>` from OIDC_PROVIDERS): discovery from
 * `${issuer}/.well-known/openid-configuration` (fetched lazily, cached, issuer checked to match exactly),
 * authorization code flow with PKCE S256 and a nonce, the ID token verified with jose (signature from the
 * provider's JWKS, `iss`, `aud`, `azp`, `exp`, `nonce`), then claims from the userinfo endpoint when there is one
 * (its `sub` must equal the ID token's).
 */
export function createOidcAdapter(config: OidcProviderConfig, options: OidcAdapterOptions): ProviderAdapter {
  const { http, now } = options;
  const ttlMs = options.discoveryTtlMs ?? 3_600_000;
  let cached: { discovery: Promise<Discovery>; fetchedAt: number } | null = null;

  async function fetchDiscovery(): Promise<Discovery> {
    const url = `${config.issuer}/.well-known/openid-configuration`;
    const response = await providerRequest(http, 'discovery', url, {
      headers: { accept: 'application/json' },
    });
    if (response.status !== 200 || !isObject(response.body)) {
      throw new ProviderError('discovery', `discovery answered ${response.status}`);
    }
    const doc = response.body;
    // OpenID Connect Discovery §4.3: the document must name exactly the issuer it was fetched for.
    if (doc.issuer !== config.issuer) throw new ProviderError('discovery', 'discovery issuer does not match');
    const authorizationEndpoint = httpUrlOrNull(doc.authorization_endpoint);
    const tokenEndpoint = httpUrlOrNull(doc.token_endpoint);
    const jwksUri = httpUrlOrNull(doc.jwks_uri);
    if (!authorizationEndpoint || !tokenEndpoint || !jwksUri) {
      throw new ProviderError('discovery', 'discovery lacks authorization, token or jwks endpoint');
    }
    const methods = Array.isArray(doc.code_challenge_methods_supported)
      ? doc.code_challenge_methods_supported
      : null;
    const authMethods = Array.isArray(doc.token_endpoint_auth_methods_supported)
      ? doc.token_endpoint_auth_methods_supported
      : ['client_secret_basic'];
    return {
      authorizationEndpoint,
      tokenEndpoint,
      userinfoEndpoint: httpUrlOrNull(doc.userinfo_endpoint),
      jwks: createRemoteJWKSet(new URL(jwksUri), {
        timeoutDuration: http.timeoutMs,
        [customFetch]: http.fetch,
      }),
      pkce: methods === null || methods.includes('S256'),
      tokenAuth:
        authMethods.includes('client_secret_basic') || !authMethods.includes('client_secret_post')
          ? 'client_secret_basic'
          : 'client_secret_post',
      issParameter: doc.authorization_response_iss_parameter_supported === true,
    };
  }

  function discovery(): Promise<Discovery> {
    const at = Date.now();
    if (cached && at - cached.fetchedAt < ttlMs) return cached.discovery;
    const entry = { discovery: fetchDiscovery(), fetchedAt: at };
    cached = entry;
    // A failure is not cached: the next sign-in tries again.
    entry.discovery.catch(() => {
      if (cached === entry) cached = null;
    });
    return entry.discovery;
  }

  async function verifyIdToken(
    idToken: string,
    jwks: JWTVerifyGetKey,
    nonce: string | null,
  ): Promise<JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, {
        issuer: config.acceptedIssuers,
        audience: config.clientId,
        algorithms: ID_TOKEN_ALGORITHMS,
        currentDate: now(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (cause) {
      const code = cause instanceof joseErrors.JOSEError ? cause.code : 'ERR_UNKNOWN';
      throw new ProviderError('id_token', `ID token rejected: ${code}`, { cause });
    }
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    // OpenID Connect Core §3.1.3.7: with several audiences, azp must name us; when present it must anyway.
    if ((audiences.length > 1 || payload.azp !== undefined) && payload.azp !== config.clientId) {
      throw new ProviderError('id_token', 'ID token azp is not this client');
    }
    if (nonce !== null && (typeof payload.nonce !== 'string' || !constantTimeEqual(payload.nonce, nonce))) {
      throw new ProviderError('id_token', 'ID token nonce does not match');
    }
    return payload;
  }

  return {
    key: config.key,
    displayName: config.displayName,

    async authorizationUrl({ state, redirectUri, codeChallenge, nonce }) {
      const doc = await discovery();
      const url = new URL(doc.authorizationEndpoint);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', config.clientId);
      url.searchParams.set('redirect_uri', redirectUri);
      url.searchParams.set('scope', config.scopes.join(' '));
      url.searchParams.set('state', state);
      url.searchParams.set('nonce', nonce);
      if (doc.pkce) {
        url.searchParams.set('code_challenge', codeChallenge);
        url.searchParams.set('code_challenge_method', 'S256');
      }
      return { url: url.toString(), usesPkce: doc.pkce, usesNonce: true };
    },

    async exchange({ code, redirectUri, codeVerifier, nonce, callbackParams }) {
      const doc = await discovery();
      // RFC 9207 (mix-up attacks): the response names its issuer; it must be the one we sent the user to.
      const iss = callbackParams.get('iss');
      if ((doc.issParameter && iss === null) || (iss !== null && iss !== config.issuer)) {
        throw new ProviderError('token', 'authorization response iss does not match the issuer');
      }
      const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri });
      if (codeVerifier !== null) form.set('code_verifier', codeVerifier);
      const headers: Record<string, string> = {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
      };
      if (doc.tokenAuth === 'client_secret_basic') {
        headers.authorization = basicAuthorization(config.clientId, config.clientSecret);
      } else {
        form.set('client_id', config.clientId);
        form.set('client_secret', config.clientSecret);
      }
      const tokens = parseTokenResponse(
        await providerRequest(http, 'token', doc.tokenEndpoint, { method: 'POST', headers, body: form }),
      );
      if (!tokens.idToken) throw new ProviderError('id_token', 'token response has no id_token');
      const idClaims = await verifyIdToken(tokens.idToken, doc.jwks, nonce);

      let claims: Record<string, unknown> = idClaims;
      if (doc.userinfoEndpoint) {
        const userinfo = expectProfileObject(
          await providerRequest(http, 'profile', doc.userinfoEndpoint, {
            headers: { accept: 'application/json', authorization: `Bearer ${tokens.accessToken}` },
          }),
          'userinfo',
        );
        // OpenID Connect Core §5.3.2: a userinfo response for another subject must not be used.
        if (userinfo.sub !== idClaims.sub)
          throw new ProviderError('profile', 'userinfo sub differs from the ID token');
        claims = { ...idClaims, ...userinfo };
      }
      const email = normalizeProviderEmail(claims.email);
      return {
        profile: {
          providerAccountId: idClaims.sub as string,
          email,
          emailVerified: email !== null && isTrue(claims.email_verified),
          displayName: normalizeDisplayName(claims.name),
        },
        tokens,
      };
    },
  };
}
