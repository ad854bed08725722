import { createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { AuthenticationError } from '@gatehouse/errors';

/**
 * Access tokens are compact JWS (RFC 7515) JWTs signed with RS256 and nothing else.
 *
 * They are verified with `node:crypto` directly rather than a JOSE library: the format we accept is
 * deliberately narrow (one algorithm, no `crit`, no embedded keys), which keeps the code small enough to
 * audit, and a raw RSA verify is ~4x cheaper than a general-purpose JOSE verify (see PERFORMANCE.md).
 */
const ALGORITHM = 'RS256';
/** Tokens longer than this are rejected before any parsing, so a huge header cannot cost CPU. */
const MAX_TOKEN_LENGTH = 8 * 1024;
const MIN_RSA_MODULUS_BITS = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Who is making the request, as asserted by a verified access token. */
export interface Viewer {
  /** The user's id (`sub` claim). */
  readonly userId: string;
  /** Role names granted to the user when the token was issued (`roles` claim). */
  readonly roles: readonly string[];
  /** Id of the session the token belongs to (`sid` claim), when the token was issued for one. */
  readonly sessionId?: string;
}

export interface AccessTokenVerifierOptions {
  /** RSA public key as PEM (SPKI, `-----BEGIN PUBLIC KEY-----`). */
  publicKeyPem: string;
  /** Required value of the `iss` claim. */
  issuer: string;
  /** Value that the `aud` claim must be or contain. */
  audience: string;
  /** Allowed clock skew between issuer and verifier for `exp`/`nbf`/`iat`; default 5 seconds. */
  clockToleranceSeconds?: number;
}

export interface AccessTokenVerifier {
  /**
   * Verifies signature and claims of `token`.
   * @throws AuthenticationError (UNAUTHENTICATED) when the token is malformed, forged, expired, not yet
   * valid, or issued by/for someone else. The message never says which check failed.
   */
  verify(token: string): Promise<Viewer>;
}

export interface AccessTokenSignerOptions {
  /** RSA private key as PEM (PKCS#8, `-----BEGIN PRIVATE KEY-----`). */
  privateKeyPem: string;
  issuer: string;
  audience: string;
  /** Lifetime of issued tokens; default 900 seconds (15 minutes). */
  ttlSeconds?: number;
  /** Optional `kid` header so verifiers can pick a key during rotation. */
  keyId?: string;
}

export interface SignAccessTokenOptions {
  /** Overrides the signer's default lifetime for this token. */
  ttlSeconds?: number;
  /** Issue time; defaults to now. Tests use it to mint expired tokens. */
  issuedAt?: Date;
}

export interface AccessTokenSigner {
  sign(viewer: Viewer, options?: SignAccessTokenOptions): Promise<string>;
}

function invalidToken(): AuthenticationError {
  return new AuthenticationError('Invalid or expired access token');
}

function assertRsaKey(key: KeyObject): void {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_MODULUS_BITS) {
    throw new Error(`Access token keys must be RSA keys of at least ${MIN_RSA_MODULUS_BITS} bits`);
  }
}

function decodeJsonSegment(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function encodeJsonSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * Creates a verifier for Gatehouse access tokens. The public key is imported once here, not per request.
 * @throws Error at construction when the key is not an RSA public key of at least 2048 bits.
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const key = createPublicKey(options.publicKeyPem);
  assertRsaKey(key);
  const tolerance = options.clockToleranceSeconds ?? 5;

  function verifySync(token: string): Viewer {
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
    if (!isRecord(header) || header.alg !== ALGORITHM || header.crit !== undefined) throw invalidToken();

    const signatureValid = verify(
      'sha256',
      Buffer.from(`${headerSegment}.${payloadSegment}`, 'ascii'),
      key,
      Buffer.from(signatureSegment, 'base64url'),
    );
    if (!signatureValid || !isRecord(payload)) throw invalidToken();

    const now = Math.floor(Date.now() / 1000);
    const { iss, aud, exp, nbf, iat, sub, roles, sid } = payload;
    if (iss !== options.issuer) throw invalidToken();
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(options.audience)) throw invalidToken();
    // `exp` is mandatory: a token without an expiry would be valid forever.
    if (typeof exp !== 'number' || exp <= now - tolerance) throw invalidToken();
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) throw invalidToken();
    if (iat !== undefined && (typeof iat !== 'number' || iat > now + tolerance)) throw invalidToken();
    if (typeof sub !== 'string' || sub.length === 0) throw invalidToken();
    if (roles !== undefined && !(Array.isArray(roles) && roles.every((r) => typeof r === 'string'))) {
      throw invalidToken();
    }
    if (sid !== undefined && typeof sid !== 'string') throw invalidToken();

    return {
      userId: sub,
      roles: (roles as string[] | undefined) ?? [],
      ...(sid === undefined ? {} : { sessionId: sid }),
    };
  }

  return {
    verify: async (token) => verifySync(token),
  };
}

/**
 * Creates a signer that issues RS256 access tokens accepted by {@link createAccessTokenVerifier}.
 * Claims: `iss`, `aud`, `sub` (user id), `roles`, `sid` (optional), `iat`, `nbf`, `exp`, `jti`.
 */
export function createAccessTokenSigner(options: AccessTokenSignerOptions): AccessTokenSigner {
  const key = createPrivateKey(options.privateKeyPem);
  assertRsaKey(key);
  const defaultTtl = options.ttlSeconds ?? 900;
  const header = encodeJsonSegment({
    alg: ALGORITHM,
    typ: 'JWT',
    ...(options.keyId === undefined ? {} : { kid: options.keyId }),
  });

  return {
    sign: async (viewer, signOptions = {}) => {
      const iat = Math.floor((signOptions.issuedAt?.getTime() ?? Date.now()) / 1000);
      const payload = encodeJsonSegment({
        iss: options.issuer,
        aud: options.audience,
        sub: viewer.userId,
        roles: viewer.roles,
        ...(viewer.sessionId === undefined ? {} : { sid: viewer.sessionId }),
        iat,
        nbf: iat,
        exp: iat + (signOptions.ttlSeconds ?? defaultTtl),
        jti: randomUUID(),
      });
      const signature = sign('sha256', Buffer.from(`${header}.${payload}`, 'ascii'), key);
      return `${header}.${payload}.${signature.toString('base64url')}`;
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
