import { ACCESS_TOKEN_ALGORITHM } from './auth';
import { rsaPublicJwk, type KeyRing, type VerificationKey } from './keys';

/** One published key: RSA public members only, never a private one. */
export interface PublishedJwk {
  kty: 'RSA';
  n: string;
  e: string;
  kid: string;
  alg: typeof ACCESS_TOKEN_ALGORITHM;
  use: 'sig';
}

/** RFC 7517 §5 JSON Web Key Set. */
export interface JwksDocument {
  keys: PublishedJwk[];
}

/** The well-known paths the gateway serves these documents at. */
export const JWKS_PATH = '/.well-known/jwks.json';
export const DISCOVERY_PATH = '/.well-known/openid-configuration';

/** The claims a Gatehouse access token can carry (see `createAccessTokenSigner`). */
export const ACCESS_TOKEN_CLAIMS = [
  'iss',
  'aud',
  'sub',
  'email',
  'roles',
  'permissions',
  'sid',
  'jti',
  'iat',
  'nbf',
  'exp',
] as const;

/**
 * The JWKS that lets anyone verify Gatehouse access tokens: every key of the ring (the signing key's first),
 * each with its `kid`. Members are copied one by one from the public key, so a private member cannot slip
 * through even when the ring was built from a private JWK.
 */
export function jwksDocument(keys: KeyRing | readonly VerificationKey[]): JwksDocument {
  const list = 'verificationKeys' in keys ? keys.verificationKeys : keys;
  return {
    keys: list.map(({ kid, publicKey }) => {
      const { kty, n, e } = rsaPublicJwk(publicKey);
      return { kty, n, e, kid, alg: ACCESS_TOKEN_ALGORITHM, use: 'sig' };
    }),
  };
}

export interface DiscoveryDocumentOptions {
  /** JWT_ISSUER: the `iss` of every token, and the base the well-known paths are served under. */
  issuer: string;
  /** Defaults to `<issuer>/.well-known/jwks.json`. */
  jwksUri?: string;
}

/** The provider metadata Gatehouse publishes (a subset of OpenID Connect Discovery 1.0 §3). */
export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  id_token_signing_alg_values_supported: string[];
  subject_types_supported: string[];
  claims_supported: string[];
}

/**
 * An OpenID Connect Discovery–style provider metadata document stating only what is true of Gatehouse today:
 * who issues tokens, where their keys are, that RS256 is the one algorithm anything is signed with
 * (`id_token_signing_alg_values_supported` is the member OIDC-aware tools read it from), that `sub` is the
 * same user id for every client (`public`) and which claims tokens carry. There is no OAuth authorization or
 * token endpoint (sign-in is a GraphQL mutation), so those members, and `response_types_supported` which
 * presumes them, are left out: anything that discovers keys from an issuer (API gateways, jose's remote
 * JWKS, service meshes) works with it; an OIDC sign-in client does not.
 */
export function discoveryDocument(options: DiscoveryDocumentOptions): DiscoveryDocument {
  const { issuer } = options;
  return {
    issuer,
    jwks_uri: options.jwksUri ?? `${issuer.replace(/\/+$/, '')}${JWKS_PATH}`,
    id_token_signing_alg_values_supported: [ACCESS_TOKEN_ALGORITHM],
    subject_types_supported: ['public'],
    claims_supported: [...ACCESS_TOKEN_CLAIMS],
  };
}
