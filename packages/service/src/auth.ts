import { randomUUID, verify, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { AuthenticationError } from '@gatehouse/errors';
import { createKeyRing, parsePrivateKey, type KeyRing, type SigningKey } from './keys';

/**
 * Access tokens are compact JWS (RFC 7515) JWTs signed with RS256 and nothing else, typed `at+jwt`
 * (RFC 9068) and naming their key in `kid`.
 *
 * They are signed with jose (once per login or refresh) but verified with `node:crypto` directly (every
 * subgraph, every request): the format we accept is deliberately narrow (one algorithm, one type, no
 * `crit`, no embedded keys), which keeps the code small enough to audit, and a raw RSA verify is ~4x
 * cheaper than a general-purpose JOSE verify (see PERFORMANCE.md). auth.test.ts cross-checks both
 * directions against jose.
 */
export const ACCESS_TOKEN_ALGORITHM = 'RS256';
/** RFC 9068 §2.1: lets a verifier refuse any other JWT signed with the same key (an ID token, say). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** Default lifetime of access tokens: 15 minutes. */
export const ACCESS_TOKEN_TTL_SECONDS = 900;
/** Tokens longer than this are rejected before any parsing, so a huge header cannot cost CPU. */
const MAX_TOKEN_LENGTH = 8 * 1024;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/**
 * Verified tokens remembered per verifier (per process). A client sends the same access token with every request
 * for up to 15 minutes, and each request is verified at the gateway and again in every subgraph it reaches; 10,000
 * entries of ~1 KiB cover that many concurrently active tokens per process.
 */
export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/** Who is making the request, as asserted by a verified access token. */
export interface Viewer {
  /** The user's id (`sub` claim). */
  readonly userId: string;
  /** Role names granted to the user when the token was issued (`roles` claim). */
  readonly roles: readonly string[];
  /** Id of the session the token belongs to (`sid` claim), when the token was issued for one. */
  readonly sessionId?: string;
  /** The user's email address when the token was issued (`email` claim), when the token carries it. */
  readonly email?: string;
  /**
   * Permission keys (`resource:action`) the user's roles granted when the token was issued (`permissions`
   * claim), when the token carries them.
   */
  readonly permissions?: readonly string[];
  /**
   * The administrator acting as this user (`act.sub`, the RFC 8693 actor claim), when the token was issued for an
   * impersonation. Such a token must never impersonate again nor change credentials or roles (`notImpersonating`).
   */
  readonly impersonatorUserId?: string;
}

interface AudienceOptions {
  /** Required value of the `iss` claim. */
  issuer: string;
  /** Value that the `aud` claim must be or contain. */
  audience: string;
}

export type AccessTokenVerifierOptions = AudienceOptions & {
  /** Allowed clock skew between issuer and verifier for `exp`/`nbf`/`iat`; default 5 seconds. */
  clockToleranceSeconds?: number;
  /**
   * How many verified tokens are remembered (least recently used first out); default
   * {@link DEFAULT_VERIFIED_TOKEN_CACHE_SIZE}, 0 turns the cache off. See {@link createAccessTokenVerifier}.
   */
  verifiedTokenCacheSize?: number;
  /** Clock in milliseconds since the epoch; default `Date.now`. Tests use it to step past a token's expiry. */
  now?: () => number;
} & (
    | {
        /**
         * JWT_PUBLIC_KEY as configured: PEM SPKI (one or more blocks), a public RSA JWK or a JWKS as JSON.
         * (The name predates JWK support and is kept for existing callers.)
         */
        publicKeyPem: string;
        keys?: never;
      }
    | {
        /** An already-built key ring: every key in it is accepted. */
        keys: KeyRing;
        publicKeyPem?: never;
      }
  );

export interface AccessTokenVerifier {
  /**
   * Verifies signature and claims of `token`.
   * @throws AuthenticationError (UNAUTHENTICATED) when the token is malformed, forged, expired, not yet
   * valid, signed with a key the ring does not hold, or issued by/for someone else. The message never
   * says which check failed.
   */
  verify(token: string): Promise<Viewer>;
}

export type AccessTokenSignerOptions = AudienceOptions & {
  /** Lifetime of issued tokens; default {@link ACCESS_TOKEN_TTL_SECONDS} (15 minutes). */
  ttlSeconds?: number;
} & (
    | {
        /** JWT_PRIVATE_KEY as configured: PEM PKCS#8 or a private RSA JWK as JSON. */
        privateKeyPem: string;
        key?: never;
      }
    | {
        /** An already-parsed key, e.g. a ring's `signingKey`. */
        key: SigningKey;
        privateKeyPem?: never;
      }
  );

export interface SignAccessTokenOptions {
  /** Overrides the signer's default lifetime for this token. */
  ttlSeconds?: number;
  /** Issue time; defaults to now. Tests use it to mint expired tokens. */
  issuedAt?: Date;
}

export interface AccessTokenSigner {
  /** The `kid` every token this signer issues carries. */
  readonly keyId: string;
  sign(viewer: Viewer, options?: SignAccessTokenOptions): Promise<string>;
}

function invalidToken(): AuthenticationError {
  return new AuthenticationError('Invalid or expired access token');
}

function decodeJsonSegment(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** RFC 8725 §3.11: `typ` compares case-insensitively, and the `application/` prefix may be omitted. */
function isAccessTokenType(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const type = typ.toLowerCase();
  return type === ACCESS_TOKEN_TYPE || type === `application/${ACCESS_TOKEN_TYPE}`;
}

/**
 * Creates a verifier for Gatehouse access tokens. Keys are imported once here, not per request.
 *
 * Verified tokens are remembered (an LRU bounded by `verifiedTokenCacheSize`), keyed by the exact token string,
 * until the token's own `exp` — never longer, and without the clock tolerance the full check allows: a cached
 * token is one this verifier accepted with this key ring, and the same bytes verify the same way until they
 * expire. The RSA verify and claim parsing (~60 % of the verifier's cost per request) are then skipped for a
 * token seen before. Only successes are remembered: a forged or expired token is checked in full every time.
 * This caches authentication, not authorization: revocation (`sessionCheck`, the gateway's revoked-session
 * check) and every permission are still checked per request, and a cached viewer is only ever returned for the
 * very token it was read from, so it cannot leak across users.
 *
 * The key is chosen by the token's `kid`; a token naming a key the ring does not hold is rejected. A token
 * without `kid` is accepted only while the ring holds exactly one key (there is then no choice to make);
 * with several keys it is rejected rather than tried against each (which would multiply the cost of forged
 * tokens).
 * @throws Error at construction when a key is malformed or not an RSA public key of at least 2048 bits.
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const ring = options.keys ?? createKeyRing({ publicKeys: options.publicKeyPem });
  const onlyKey: KeyObject | undefined =
    ring.verificationKeys.length === 1 ? ring.verificationKeys[0]?.publicKey : undefined;
  const tolerance = options.clockToleranceSeconds ?? 5;
  const now = options.now ?? Date.now;
  const cacheSize = options.verifiedTokenCacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE;
  if (!(cacheSize >= 0)) throw new RangeError('verifiedTokenCacheSize must be 0 or more');
  /** Token → its viewer and `exp` in ms; Map order is recency (a hit moves the entry to the end). */
  const verified = new Map<string, { viewer: Viewer; expiresAtMs: number }>();

  function verifySync(token: string): { viewer: Viewer; expiresAtMs: number } {
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken();
    const segments = token.split('.');
    if (segments.length !== 3) throw invalidToken();
    const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];
    if (![headerSegment, payloadSegment, signatureSegment].every((s) => BASE64URL.test(s))) {
      throw invalidToken();
    }

    let header: unknown;
    let payload: unknown;
    try {
      header = decodeJsonSegment(headerSegment);
      payload = decodeJsonSegment(payloadSegment);
    } catch {
      throw invalidToken();
    }
    // Pin the algorithm from our configuration, never from the token ("alg": "none"/HS256 confusion).
    // `crit` names extensions we would have to understand; we understand none.
    if (!isRecord(header) || header.alg !== ACCESS_TOKEN_ALGORITHM || header.crit !== undefined) {
      throw invalidToken();
    }
    if (!isAccessTokenType(header.typ)) throw invalidToken();
    const { kid } = header;
    let key: KeyObject | undefined;
    if (kid === undefined) key = onlyKey;
    else if (typeof kid === 'string') key = ring.find(kid)?.publicKey;
    if (!key) throw invalidToken();

    const signatureValid = verify(
      'sha256',
      Buffer.from(`${headerSegment}.${payloadSegment}`, 'ascii'),
      key,
      Buffer.from(signatureSegment, 'base64url'),
    );
    if (!signatureValid || !isRecord(payload)) throw invalidToken();

    const nowSeconds = Math.floor(now() / 1000);
    const { iss, aud, exp, nbf, iat, sub, roles, sid, email, permissions, jti, act } = payload;
    if (iss !== options.issuer) throw invalidToken();
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(options.audience)) throw invalidToken();
    // `exp` is mandatory: a token without an expiry would be valid forever.
    if (typeof exp !== 'number' || exp <= nowSeconds - tolerance) throw invalidToken();
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds + tolerance)) throw invalidToken();
    if (iat !== undefined && (typeof iat !== 'number' || iat > nowSeconds + tolerance)) throw invalidToken();
    if (typeof sub !== 'string' || sub.length === 0) throw invalidToken();
    if (roles !== undefined && !isStringArray(roles)) throw invalidToken();
    if (permissions !== undefined && !isStringArray(permissions)) throw invalidToken();
    if (sid !== undefined && typeof sid !== 'string') throw invalidToken();
    if (email !== undefined && typeof email !== 'string') throw invalidToken();
    if (jti !== undefined && typeof jti !== 'string') throw invalidToken();
    // RFC 8693 §4.1: `act.sub` names who acts for `sub`. A malformed actor claim fails the token rather than
    // passing it as an ordinary one (which would drop the impersonation marker). Nested actors (a chain) are
    // never issued by us, so they are refused too.
    let impersonatorUserId: string | undefined;
    if (act !== undefined) {
      if (!isRecord(act) || typeof act.sub !== 'string' || act.sub.length === 0 || act.act !== undefined) {
        throw invalidToken();
      }
      impersonatorUserId = act.sub;
    }

    // Frozen: the same object answers every later request carrying this token.
    const viewer: Viewer = Object.freeze({
      userId: sub,
      roles: Object.freeze(roles ?? []),
      ...(sid === undefined ? {} : { sessionId: sid }),
      ...(email === undefined ? {} : { email }),
      ...(permissions === undefined ? {} : { permissions: Object.freeze(permissions) }),
      ...(impersonatorUserId === undefined ? {} : { impersonatorUserId }),
    });
    return { viewer, expiresAtMs: exp * 1000 };
  }

  function verifyCached(token: string): Viewer {
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken();
    const hit = verified.get(token);
    if (hit) {
      verified.delete(token);
      if (now() < hit.expiresAtMs) {
        verified.set(token, hit);
        return hit.viewer;
      }
    }
    const entry = verifySync(token);
    // Accepted within the clock tolerance but already past `exp`: valid this once, never remembered.
    if (now() < entry.expiresAtMs) {
      verified.set(token, entry);
      if (verified.size > cacheSize) verified.delete(verified.keys().next().value as string);
    }
    return entry.viewer;
  }

  return {
    verify: async (token) => (cacheSize > 0 ? verifyCached(token) : verifySync(token).viewer),
  };
}

/**
 * Creates a signer that issues RS256 access tokens accepted by {@link createAccessTokenVerifier}.
 * Header: `alg` RS256, `typ` at+jwt, `kid` (the key's thumbprint). Claims: `iss`, `aud`, `sub` (user id),
 * `email` (when known), `roles`, `permissions` (when known), `sid` (when issued for a session), `act`
 * (`{ sub: impersonatorUserId }`, when issued for an impersonation), `jti`, `iat`, `nbf`, `exp`.
 * @throws Error at construction when the key is malformed or not an RSA private key of at least 2048 bits.
 */
export function createAccessTokenSigner(options: AccessTokenSignerOptions): AccessTokenSigner {
  const key = options.key ?? parsePrivateKey(options.privateKeyPem);
  const defaultTtl = options.ttlSeconds ?? ACCESS_TOKEN_TTL_SECONDS;

  return {
    keyId: key.kid,
    sign: (viewer, signOptions = {}) => {
      const iat = Math.floor((signOptions.issuedAt?.getTime() ?? Date.now()) / 1000);
      return new SignJWT({
        ...(viewer.email === undefined ? {} : { email: viewer.email }),
        roles: [...viewer.roles],
        ...(viewer.permissions === undefined ? {} : { permissions: [...viewer.permissions] }),
        ...(viewer.sessionId === undefined ? {} : { sid: viewer.sessionId }),
        ...(viewer.impersonatorUserId === undefined ? {} : { act: { sub: viewer.impersonatorUserId } }),
      })
        .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, typ: ACCESS_TOKEN_TYPE, kid: key.kid })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setSubject(viewer.userId)
        .setJti(randomUUID())
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + (signOptions.ttlSeconds ?? defaultTtl))
        .sign(key.privateKey);
    },
  };
}

/**
 * Extracts the token from an `Authorization: Bearer <token>` header value.
 * Returns `undefined` when there is no header; throws AuthenticationError for any other scheme or shape,
 * so a client that meant to authenticate is never silently treated as anonymous.
 */
export function bearerTokenFrom(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization === '') return undefined;
  const match = /^Bearer +([^\s]+) *$/i.exec(authorization);
  if (!match?.[1]) throw invalidToken();
  return match[1];
}
