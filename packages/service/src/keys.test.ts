import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { createKeyRing, jwkThumbprint, parsePrivateKey, parsePublicKeys } from './keys';

function rsaPair(modulusLength = 2048) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength });
  return {
    publicPem: String(publicKey.export({ type: 'spki', format: 'pem' })),
    privatePem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    publicJwk: publicKey.export({ format: 'jwk' }),
    privateJwk: privateKey.export({ format: 'jwk' }),
  };
}

const a = rsaPair();
const b = rsaPair();

/** Parse errors end up in startup logs: they must never quote the key. */
function expectErrorWithoutSecret(parse: () => unknown, message: RegExp, secret: string): void {
  let error: unknown;
  try {
    parse();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(Error);
  const text = (error as Error).message;
  expect(text).toMatch(message);
  expect(text).not.toContain(secret.slice(40, 80));
}

describe('jwkThumbprint', () => {
  it('is the RFC 7638 thumbprint jose computes', async () => {
    const { publicKey } = parsePrivateKey(a.privatePem);
    expect(jwkThumbprint(publicKey)).toBe(await calculateJwkThumbprint(a.publicJwk as never));
  });
});

describe('parsePrivateKey', () => {
  it('reads PEM PKCS#8 and a private JWK to the same key and kid', () => {
    const fromPem = parsePrivateKey(a.privatePem);
    const fromJwk = parsePrivateKey(JSON.stringify(a.privateJwk));
    expect(fromJwk.kid).toBe(fromPem.kid);
    expect(fromPem.kid).toBe(jwkThumbprint(fromPem.publicKey));
    expect(fromPem.privateKey.type).toBe('private');
    expect(fromPem.publicKey.type).toBe('public');
  });

  it('reads PEM stored on one line with literal "\\n" (container platforms)', () => {
    expect(parsePrivateKey(a.privatePem.replace(/\n/g, '\\n')).kid).toBe(parsePrivateKey(a.privatePem).kid);
  });

  it('ignores a kid written into the JWK: the kid is always the thumbprint', () => {
    const key = parsePrivateKey(JSON.stringify({ ...a.privateJwk, kid: 'my-key-2024' }));
    expect(key.kid).toBe(parsePrivateKey(a.privatePem).kid);
  });

  it('refuses what is not an RSA-2048+ PKCS#8 private key, without quoting it', () => {
    const pkcs1 = String(
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }),
    );
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const small = rsaPair(1024);
    expectErrorWithoutSecret(() => parsePrivateKey(a.publicPem), /PKCS#8/, a.publicPem);
    expectErrorWithoutSecret(() => parsePrivateKey(pkcs1), /PKCS#8/, pkcs1);
    expectErrorWithoutSecret(() => parsePrivateKey(a.privatePem + a.privatePem), /one PEM/, a.privatePem);
    expectErrorWithoutSecret(() => parsePrivateKey(small.privatePem), /at least 2048 bits/, small.privatePem);
    const ecPem = String(ec.export({ type: 'pkcs8', format: 'pem' }));
    expectErrorWithoutSecret(() => parsePrivateKey(ecPem), /RSA/, ecPem);
    const ecJwk = JSON.stringify(ec.export({ format: 'jwk' }));
    expectErrorWithoutSecret(() => parsePrivateKey(ecJwk), /"kty": "RSA"/, ecJwk);
    const lines = a.privatePem.split('\n');
    const truncated = [...lines.slice(0, 5), ...lines.slice(6)].join('\n');
    expectErrorWithoutSecret(() => parsePrivateKey(truncated), /not a valid/, truncated);
    expect(() => parsePrivateKey('not a key')).toThrow(/PKCS#8/);
  });

  it('refuses JWKs that are public, malformed or meant for something else', () => {
    const secret = JSON.stringify(a.privateJwk);
    expect(() => parsePrivateKey(JSON.stringify(a.publicJwk))).toThrow(/no private part/);
    expectErrorWithoutSecret(() => parsePrivateKey(secret.slice(0, -2)), /not valid JSON/, secret);
    expect(() => parsePrivateKey(JSON.stringify({ ...a.privateJwk, alg: 'RS512' }))).toThrow(/RS256/);
    expect(() => parsePrivateKey(JSON.stringify({ ...a.privateJwk, use: 'enc' }))).toThrow(/"sig"/);
    expectErrorWithoutSecret(
      () => parsePrivateKey(JSON.stringify({ ...a.privateJwk, n: 'AQAB' })),
      /not a valid RSA JWK|at least 2048/,
      secret,
    );
  });
});

describe('parsePublicKeys', () => {
  const kidA = parsePrivateKey(a.privatePem).kid;
  const kidB = parsePrivateKey(b.privatePem).kid;

  it('reads one PEM, several PEM blocks, a JWK and a JWKS', () => {
    expect(parsePublicKeys(a.publicPem).map((k) => k.kid)).toEqual([kidA]);
    expect(parsePublicKeys(a.publicPem.replace(/\n/g, '\\n')).map((k) => k.kid)).toEqual([kidA]);
    expect(parsePublicKeys(`${a.publicPem}\n${b.publicPem}`).map((k) => k.kid)).toEqual([kidA, kidB]);
    expect(parsePublicKeys(JSON.stringify(b.publicJwk)).map((k) => k.kid)).toEqual([kidB]);
    const jwks = { keys: [{ ...a.publicJwk, kid: 'x', alg: 'RS256', use: 'sig' }, b.publicJwk] };
    expect(parsePublicKeys(JSON.stringify(jwks)).map((k) => k.kid)).toEqual([kidA, kidB]);
  });

  it('refuses private keys in the public variable, so a secret is not spread to every service', () => {
    expect(() => parsePublicKeys(JSON.stringify(a.privateJwk))).toThrow(/private key members/);
    expect(() => parsePublicKeys(JSON.stringify({ keys: [a.publicJwk, b.privateJwk] }))).toThrow(
      /JWKS key #2 contains private key members/,
    );
    expectErrorWithoutSecret(() => parsePublicKeys(a.privatePem), /SPKI/, a.privatePem);
  });

  it('refuses malformed lists and keys, naming which key is wrong', () => {
    const ecJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    expect(() => parsePublicKeys(JSON.stringify({ keys: [] }))).toThrow(/at least one key/);
    expect(() => parsePublicKeys(JSON.stringify({ keys: [a.publicJwk, ecJwk] }))).toThrow(/JWKS key #2.*RSA/);
    expect(() => parsePublicKeys(`${a.publicPem}\n${rsaPair(1024).publicPem}`)).toThrow(
      /PEM key #2 must be an RSA key of at least 2048 bits/,
    );
    expect(() => parsePublicKeys(`${a.publicPem}\ntrailing garbage`)).toThrow(/must be PEM/);
    expect(() => parsePublicKeys('')).toThrow(/must be PEM/);
    expect(() => parsePublicKeys('{"kty":')).toThrow(/not valid JSON/);
    expect(() => parsePublicKeys(JSON.stringify({ kty: 'RSA', n: 'AQAB', e: 'AQAB' }))).toThrow(
      /not a valid RSA JWK|at least 2048/,
    );
  });
});

describe('createKeyRing', () => {
  it('puts the signing key first, adds the extra public keys and drops duplicates', () => {
    const ring = createKeyRing({
      privateKey: a.privatePem,
      publicKeys: [`${a.publicPem}\n${b.publicPem}`, JSON.stringify(b.publicJwk)],
    });
    const kidA = parsePrivateKey(a.privatePem).kid;
    const kidB = parsePrivateKey(b.privatePem).kid;
    expect(ring.signingKey?.kid).toBe(kidA);
    expect(ring.verificationKeys.map((k) => k.kid)).toEqual([kidA, kidB]);
    expect(ring.find(kidB)?.publicKey.type).toBe('public');
    expect(ring.find('unknown')).toBeUndefined();
    // The verification entry of the signing key carries no private key.
    expect(Object.keys(ring.verificationKeys[0] ?? {})).toEqual(['kid', 'publicKey']);
  });

  it('verifies without a signing key, and refuses to be empty', () => {
    const ring = createKeyRing({ publicKeys: b.publicPem });
    expect(ring.signingKey).toBeUndefined();
    expect(ring.verificationKeys).toHaveLength(1);
    expect(() => createKeyRing({})).toThrow(/at least one public key/);
  });
});
