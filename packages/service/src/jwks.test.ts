import { generateKeyPairSync } from 'node:crypto';
import { discoveryDocument, jwksDocument } from './jwks';
import { createKeyRing, PRIVATE_JWK_MEMBERS } from './keys';

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
const extra = generateKeyPairSync('rsa', { modulusLength: 2048 });

/** Every property name anywhere in a JSON value. */
function memberNames(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(memberNames);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([name, inner]) => [name, ...memberNames(inner)]);
}

describe('jwksDocument', () => {
  // Built from a private JWK (which carries d, p, q, dp, dq, qi) to prove none of it is copied out.
  const ring = createKeyRing({
    privateKey: JSON.stringify(signing.privateKey.export({ format: 'jwk' })),
    publicKeys: String(extra.publicKey.export({ type: 'spki', format: 'pem' })),
  });
  const document = jwksDocument(ring);

  it('publishes every key of the ring with exactly kty, n, e, kid, alg and use', () => {
    expect(document.keys).toHaveLength(2);
    for (const [index, key] of document.keys.entries()) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
      expect(key).toMatchObject({
        kty: 'RSA',
        alg: 'RS256',
        use: 'sig',
        kid: ring.verificationKeys[index]?.kid,
      });
    }
    expect(document.keys[0]?.n).toBe(signing.publicKey.export({ format: 'jwk' }).n);
  });

  it('never contains a private key member, at any depth', () => {
    const names = memberNames(JSON.parse(JSON.stringify(document)));
    for (const member of PRIVATE_JWK_MEMBERS) expect(names).not.toContain(member);
    const d = signing.privateKey.export({ format: 'jwk' }).d ?? '';
    expect(JSON.stringify(document)).not.toContain(d.slice(0, 32));
  });

  it('accepts a plain list of verification keys', () => {
    expect(jwksDocument(ring.verificationKeys.slice(1)).keys.map((k) => k.kid)).toEqual([
      ring.verificationKeys[1]?.kid,
    ]);
  });
});

describe('discoveryDocument', () => {
  it('names the issuer, the JWKS and only what Gatehouse really supports', () => {
    expect(discoveryDocument({ issuer: 'https://id.example.test' })).toEqual({
      issuer: 'https://id.example.test',
      jwks_uri: 'https://id.example.test/.well-known/jwks.json',
      id_token_signing_alg_values_supported: ['RS256'],
      subject_types_supported: ['public'],
      claims_supported: [
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
      ],
    });
  });

  it('keeps the issuer exactly as configured and joins paths without a double slash', () => {
    const document = discoveryDocument({ issuer: 'https://example.test/auth/' });
    expect(document.issuer).toBe('https://example.test/auth/');
    expect(document.jwks_uri).toBe('https://example.test/auth/.well-known/jwks.json');
    expect(
      discoveryDocument({ issuer: 'https://example.test', jwksUri: 'https://cdn.example.test/jwks.json' })
        .jwks_uri,
    ).toBe('https://cdn.example.test/jwks.json');
  });
});
