import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * Access-token keys: one signing key (identity only) and any number of verification keys.
 *
 * Rotation without logging anyone out: publish the new public key next to the old one (JWT_PUBLIC_KEY holds
 * both), then switch JWT_PRIVATE_KEY to the new key; once the last token signed with the old key has expired
 * (15 minutes), remove the old public key. Tokens name their key in the `kid` header.
 *
 * Every key's `kid` is its RFC 7638 JWK thumbprint, so every service derives the same id from the same key
 * without coordination, and a development key keeps its id across restarts. A `kid` written into a configured
 * JWK is ignored for that reason.
 */

const MIN_RSA_MODULUS_BITS = 2048;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
/** Members of a private RSA JWK (RFC 7518 §6.3.2); none of them may ever be published. */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const;

/** A key that can verify access tokens. */
export interface VerificationKey {
  /** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key. */
  readonly kid: string;
  /** RSA public key, imported once. */
  readonly publicKey: KeyObject;
}

/** The key access tokens are signed with, and its public half. */
export interface SigningKey extends VerificationKey {
  readonly privateKey: KeyObject;
}

/** The keys one service holds: at most one signing key, and every key it accepts, the signing key's first. */
export interface KeyRing {
  /** `undefined` in services that only verify (every subgraph but identity, the gateway). */
  readonly signingKey: SigningKey | undefined;
  /** Never empty, and without duplicates. */
  readonly verificationKeys: readonly VerificationKey[];
  /** The verification key with this `kid`, if the ring holds it. */
  find(kid: string): VerificationKey | undefined;
}

export interface KeyRingOptions {
  /** JWT_PRIVATE_KEY: PEM (PKCS#8) or a private RSA JWK as JSON. */
  privateKey?: string;
  /**
   * JWT_PUBLIC_KEY: PEM (SPKI; several blocks may follow each other), a public RSA JWK as JSON, or a JWKS
   * `{"keys": [...]}`. Accepted in addition to the signing key's own public key.
   */
  publicKeys?: string | readonly string[];
}

/** The RSA public members of a JWK. */
export interface RsaPublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
}

/**
 * Environment variables often carry PEM on one line with literal "\n" (container platforms); JSON allows a
 * newline wherever it allows whitespace outside strings, and JWK strings never contain a backslash.
 */
function normalize(material: string): string {
  return material.replace(/\\n/g, '\n').trim();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(material: string, what: string): unknown {
  try {
    return JSON.parse(material);
  } catch {
    // The parser's message may quote the (secret) input; say only what was expected.
    throw new Error(`${what} is not valid JSON`);
  }
}

function assertRsaKey(key: KeyObject, what: string): void {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_MODULUS_BITS) {
    throw new Error(`${what} must be an RSA key of at least ${MIN_RSA_MODULUS_BITS} bits`);
  }
}

/** A configured JWK may restrict itself to other uses; honour that rather than sign or verify with it. */
function assertUsableJwk(jwk: Record<string, unknown>, what: string): void {
  if (jwk.kty !== 'RSA') throw new Error(`${what} must be an RSA JWK ("kty": "RSA")`);
  if (jwk.alg !== undefined && jwk.alg !== 'RS256') throw new Error(`${what} must be for "alg": "RS256"`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new Error(`${what} must be for "use": "sig"`);
}

/** The RSA public members of `key`, exactly as a JWKS publishes them. */
export function rsaPublicJwk(key: KeyObject): RsaPublicJwk {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new Error('not an RSA public key');
  }
  return { kty: 'RSA', n: jwk.n, e: jwk.e };
}

/** RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no whitespace. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const { e, kty, n } = rsaPublicJwk(publicKey);
  return createHash('sha256').update(JSON.stringify({ e, kty, n })).digest('base64url');
}

function verificationKey(publicKey: KeyObject, what: string): VerificationKey {
  assertRsaKey(publicKey, what);
  return { kid: jwkThumbprint(publicKey), publicKey };
}

/**
 * Parses a signing key: PEM PKCS#8 (`-----BEGIN PRIVATE KEY-----`) or a private RSA JWK as JSON.
 * @throws Error naming the problem, never quoting the key.
 */
export function parsePrivateKey(material: string): SigningKey {
  const text = normalize(material);
  let privateKey: KeyObject;
  if (text.startsWith('{')) {
    const jwk = parseJson(text, 'The private key');
    if (!isRecord(jwk)) throw new Error('The private key must be a JWK object');
    assertUsableJwk(jwk, 'The private key');
    if (typeof jwk.d !== 'string') throw new Error('The private key JWK has no private part ("d")');
    try {
      privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      throw new Error('The private key is not a valid RSA JWK');
    }
  } else {
    const blocks = text.match(PEM_BLOCK) ?? [];
    if (blocks.length !== 1 || !blocks[0]?.startsWith('-----BEGIN PRIVATE KEY-----')) {
      throw new Error('The private key must be one PEM-encoded PKCS#8 key (-----BEGIN PRIVATE KEY-----)');
    }
    try {
      privateKey = createPrivateKey(blocks[0]);
    } catch {
      throw new Error('The private key is not a valid PEM-encoded PKCS#8 key');
    }
  }
  assertRsaKey(privateKey, 'The private key');
  return { ...verificationKey(createPublicKey(privateKey), 'The private key'), privateKey };
}

function parsePublicJwk(jwk: unknown, what: string): VerificationKey {
  if (!isRecord(jwk)) throw new Error(`${what} must be a JWK object`);
  assertUsableJwk(jwk, what);
  // A private key in a public variable would spread a secret to every service: refuse it.
  if (PRIVATE_JWK_MEMBERS.some((member) => jwk[member] !== undefined)) {
    throw new Error(`${what} contains private key members; configure only the public part`);
  }
  try {
    return verificationKey(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), what);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(what)) throw err;
    throw new Error(`${what} is not a valid RSA JWK`);
  }
}

/**
 * Parses verification keys: PEM SPKI blocks (`-----BEGIN PUBLIC KEY-----`, one or several in a row), a
 * public RSA JWK, or a JWKS (`{"keys": [...]}`) as JSON.
 * @throws Error naming the problem (and which key, for lists), never quoting the key.
 */
export function parsePublicKeys(material: string): VerificationKey[] {
  const text = normalize(material);
  if (text.startsWith('{')) {
    const json = parseJson(text, 'The public key');
    if (isRecord(json) && json.keys !== undefined) {
      if (!Array.isArray(json.keys) || json.keys.length === 0) {
        throw new Error('The JWKS must list at least one key in "keys"');
      }
      return json.keys.map((jwk, index) => parsePublicJwk(jwk, `JWKS key #${index + 1}`));
    }
    return [parsePublicJwk(json, 'The public key')];
  }
  const blocks = text.match(PEM_BLOCK) ?? [];
  // Text around or between the blocks is a pasting mistake (a truncated key, a stray line): refuse it.
  if (blocks.length === 0 || text.replace(PEM_BLOCK, '').trim() !== '') {
    throw new Error('The public key must be PEM (SPKI, one or more blocks), a JWK or a JWKS');
  }
  return blocks.map((block, index) => {
    const what = blocks.length === 1 ? 'The public key' : `PEM key #${index + 1}`;
    if (!block.startsWith('-----BEGIN PUBLIC KEY-----')) {
      throw new Error(`${what} must be a PEM-encoded SPKI public key (-----BEGIN PUBLIC KEY-----)`);
    }
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(block);
    } catch {
      throw new Error(`${what} is not a valid PEM-encoded SPKI public key`);
    }
    return verificationKey(publicKey, what);
  });
}

/**
 * Builds the key ring of a service from its configuration: the signing key (if any) first, then every
 * other accepted key, duplicates (same thumbprint) dropped.
 * @throws Error when a key is malformed, not RSA-2048+, or when the ring would be empty.
 */
export function createKeyRing(options: KeyRingOptions): KeyRing {
  const signingKey = options.privateKey === undefined ? undefined : parsePrivateKey(options.privateKey);
  const materials =
    options.publicKeys === undefined
      ? []
      : typeof options.publicKeys === 'string'
        ? [options.publicKeys]
        : options.publicKeys;
  const byKid = new Map<string, VerificationKey>();
  if (signingKey) byKid.set(signingKey.kid, { kid: signingKey.kid, publicKey: signingKey.publicKey });
  for (const material of materials) {
    for (const key of parsePublicKeys(material)) if (!byKid.has(key.kid)) byKid.set(key.kid, key);
  }
  if (byKid.size === 0) throw new Error('A key ring needs a private key or at least one public key');
  const verificationKeys = [...byKid.values()];
  return {
    signingKey,
    verificationKeys,
    find: (kid) => byKid.get(kid),
  };
}
