import { createHmac, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { ErrorCode } from '@gatehouse/errors';
import { bearerTokenFrom, createAccessTokenSigner, createAccessTokenVerifier } from './auth';
import { jwksDocument } from './jwks';
import { createKeyRing, parsePrivateKey, type KeyRing } from './keys';

function keyPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

const issuer = 'https://auth.example.test';
const audience = 'gatehouse';
const keys = keyPair();
const signer = createAccessTokenSigner({ privateKeyPem: keys.privateKey, issuer, audience });
const verifier = createAccessTokenVerifier({ publicKeyPem: keys.publicKey, issuer, audience });
const viewer = { userId: '6f1c1a52-8f0e-4c57-9c55-1f8f7f6c0b11', roles: ['member'], sessionId: 'sess-1' };

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function expectRejected(token: string): Promise<void> {
  await expect(verifier.verify(token)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
}

describe('access tokens', () => {
  it('round-trips a viewer through sign and verify', async () => {
    const token = await signer.sign(viewer);
    await expect(verifier.verify(token)).resolves.toEqual(viewer);
  });

  it('defaults roles to an empty list and omits a missing session id', async () => {
    const [header] = (await signer.sign(viewer)).split('.');
    const now = Math.floor(Date.now() / 1000);
    const payload = b64({ iss: issuer, aud: [audience, 'other'], sub: 'u1', exp: now + 60 });
    // Re-sign by hand so the payload has no roles/sid claims.
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), keys.privateKey).toString(
      'base64url',
    );
    await expect(verifier.verify(`${header}.${payload}.${signature}`)).resolves.toEqual({
      userId: 'u1',
      roles: [],
    });
  });

  it('rejects an expired token', async () => {
    const token = await signer.sign(viewer, { ttlSeconds: 60, issuedAt: new Date(Date.now() - 3_600_000) });
    await expectRejected(token);
  });

  it('rejects a token signed with another key', async () => {
    const other = keyPair();
    const forger = createAccessTokenSigner({ privateKeyPem: other.privateKey, issuer, audience });
    await expectRejected(await forger.sign(viewer));
  });

  it('rejects a token for another audience or from another issuer', async () => {
    const wrongAudience = createAccessTokenSigner({
      privateKeyPem: keys.privateKey,
      issuer,
      audience: 'billing',
    });
    const wrongIssuer = createAccessTokenSigner({
      privateKeyPem: keys.privateKey,
      issuer: 'https://evil',
      audience,
    });
    await expectRejected(await wrongAudience.sign(viewer));
    await expectRejected(await wrongIssuer.sign(viewer));
  });

  it('rejects alg "none"', async () => {
    const [, payload] = (await signer.sign(viewer)).split('.');
    await expectRejected(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`);
    await expectRejected(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.AAAA`);
  });

  it('rejects HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
    const [, payload] = (await signer.sign(viewer)).split('.');
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const signature = createHmac('sha256', keys.publicKey).update(`${header}.${payload}`).digest('base64url');
    await expectRejected(`${header}.${payload}.${signature}`);
  });

  it('rejects HS256 even with a kid the ring holds', async () => {
    const [, payload] = (await signer.sign(viewer)).split('.');
    const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: parsePrivateKey(keys.privateKey).kid });
    const signature = createHmac('sha256', keys.publicKey).update(`${header}.${payload}`).digest('base64url');
    await expectRejected(`${header}.${payload}.${signature}`);
  });

  it('rejects a tampered payload', async () => {
    const [header, , signature] = (await signer.sign(viewer)).split('.');
    const now = Math.floor(Date.now() / 1000);
    const payload = b64({ iss: issuer, aud: audience, sub: viewer.userId, roles: ['admin'], exp: now + 600 });
    await expectRejected(`${header}.${payload}.${signature}`);
  });

  it('rejects malformed input without throwing anything but UNAUTHENTICATED', async () => {
    for (const token of ['', 'a.b', 'a.b.c.d', '!!.??.**', 'eyJ.eyJ.x', 'x'.repeat(10_000)]) {
      await expectRejected(token);
    }
  });

  it('refuses keys that are not RSA-2048+', () => {
    const { publicKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    expect(() => createAccessTokenVerifier({ publicKeyPem: publicKey, issuer, audience })).toThrow(/RSA/);
  });
});

describe('access tokens: claims, types and keys', () => {
  const fullViewer = {
    userId: '0b0e7c1e-4a43-4d5d-8c1c-7a1c4f3a9e21',
    roles: ['admin'],
    sessionId: 'c5b1f6f4-0b7e-4d9e-9a57-3f2d7a1f0c55',
    email: 'ada@example.test',
    permissions: ['users:read', 'users:write'],
  };

  /** Signs `payload` under `header` with the test key, bypassing our signer. */
  function handSigned(header: Record<string, unknown>, payload: Record<string, unknown>): string {
    const signingInput = `${b64(header)}.${b64(payload)}`;
    const signature = sign('sha256', Buffer.from(signingInput), keys.privateKey).toString('base64url');
    return `${signingInput}.${signature}`;
  }

  const kid = parsePrivateKey(keys.privateKey).kid;
  const validPayload = () => ({
    iss: issuer,
    aud: audience,
    sub: 'u1',
    exp: Math.floor(Date.now() / 1000) + 60,
  });

  it('issues a 15-minute at+jwt naming its key, with every claim of the viewer', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await signer.sign(fullViewer);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'at+jwt', kid });
    expect(signer.keyId).toBe(kid);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: issuer,
      aud: audience,
      sub: fullViewer.userId,
      email: fullViewer.email,
      roles: fullViewer.roles,
      permissions: fullViewer.permissions,
      sid: fullViewer.sessionId,
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp).toBe((claims.iat ?? 0) + 900);
    expect(decodeJwt(await signer.sign(fullViewer)).jti).not.toBe(claims.jti);
    await expect(verifier.verify(token)).resolves.toEqual(fullViewer);
  });

  it('is verified by jose against the published JWKS (our signer -> jose verifier)', async () => {
    const ring = createKeyRing({ privateKey: keys.privateKey });
    const token = await signer.sign(fullViewer);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwksDocument(ring)), {
      issuer,
      audience,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toBe(kid);
    expect(payload).toMatchObject({ sub: fullViewer.userId, permissions: fullViewer.permissions });
  });

  it('verifies a token jose signed with the same key (jose signer -> our verifier)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ roles: ['member'], email: 'grace@example.test', sid: 's-2' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('u-2')
      .setJti('j-2')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(createPrivateKey(keys.privateKey));
    await expect(verifier.verify(token)).resolves.toEqual({
      userId: 'u-2',
      roles: ['member'],
      sessionId: 's-2',
      email: 'grace@example.test',
    });
  });

  it('accepts configured keys as a JWK or a JWKS, not only PEM', async () => {
    const jwks = JSON.stringify(jwksDocument(createKeyRing({ publicKeys: keys.publicKey })));
    const fromJwks = createAccessTokenVerifier({ publicKeyPem: jwks, issuer, audience });
    const jwk = createKeyRing({ publicKeys: keys.publicKey }).verificationKeys[0]?.publicKey.export({
      format: 'jwk',
    });
    const fromJwk = createAccessTokenVerifier({ publicKeyPem: JSON.stringify(jwk), issuer, audience });
    const jwkSigner = createAccessTokenSigner({
      privateKeyPem: JSON.stringify(createPrivateKey(keys.privateKey).export({ format: 'jwk' })),
      issuer,
      audience,
    });
    const token = await jwkSigner.sign(viewer);
    await expect(fromJwks.verify(token)).resolves.toEqual(viewer);
    await expect(fromJwk.verify(token)).resolves.toEqual(viewer);
  });

  it('rejects tokens that are not typed at+jwt (another JWT signed with the same key)', async () => {
    await expect(
      verifier.verify(handSigned({ alg: 'RS256', typ: 'at+jwt', kid }, validPayload())),
    ).resolves.toMatchObject({ userId: 'u1' });
    await expect(
      verifier.verify(handSigned({ alg: 'RS256', typ: 'application/AT+JWT', kid }, validPayload())),
    ).resolves.toMatchObject({ userId: 'u1' });
    await expectRejected(handSigned({ alg: 'RS256', typ: 'JWT', kid }, validPayload()));
    await expectRejected(handSigned({ alg: 'RS256', kid }, validPayload()));
  });

  it('rejects crit headers and claims of the wrong type', async () => {
    const header = { alg: 'RS256', typ: 'at+jwt', kid };
    await expectRejected(handSigned({ ...header, crit: ['exp'] }, validPayload()));
    await expectRejected(handSigned(header, { ...validPayload(), permissions: 'users:write' }));
    await expectRejected(handSigned(header, { ...validPayload(), permissions: [1] }));
    await expectRejected(handSigned(header, { ...validPayload(), email: 42 }));
    await expectRejected(handSigned(header, { ...validPayload(), jti: 7 }));
    await expectRejected(handSigned(header, { ...validPayload(), exp: undefined }));
  });

  it('carries the impersonator as the RFC 8693 actor claim `act.sub`, both ways', async () => {
    const impersonated = { ...fullViewer, impersonatorUserId: '9d7a3c1e-2b4f-4e8a-9c6d-5f1e0a2b3c4d' };
    const token = await signer.sign(impersonated);
    expect(decodeJwt(token).act).toEqual({ sub: impersonated.impersonatorUserId });
    await expect(verifier.verify(token)).resolves.toEqual(impersonated);
    // An ordinary token has no actor, and the viewer says so.
    const plain = await verifier.verify(await signer.sign(fullViewer));
    expect(plain.impersonatorUserId).toBeUndefined();
    expect(decodeJwt(await signer.sign(fullViewer)).act).toBeUndefined();
  });

  it('rejects a malformed or nested actor claim instead of dropping it', async () => {
    const header = { alg: 'RS256', typ: 'at+jwt', kid };
    await expectRejected(handSigned(header, { ...validPayload(), act: 'admin-1' }));
    await expectRejected(handSigned(header, { ...validPayload(), act: {} }));
    await expectRejected(handSigned(header, { ...validPayload(), act: { sub: '' } }));
    await expectRejected(handSigned(header, { ...validPayload(), act: { sub: 7 } }));
    await expectRejected(handSigned(header, { ...validPayload(), act: { sub: 'a', act: { sub: 'b' } } }));
    await expect(
      verifier.verify(handSigned(header, { ...validPayload(), act: { sub: 'admin-1' } })),
    ).resolves.toMatchObject({ userId: 'u1', impersonatorUserId: 'admin-1' });
  });

  it('picks the key by kid: unknown kids are rejected, a missing kid only passes with a single key', async () => {
    const other = keyPair();
    const twoKeys = createAccessTokenVerifier({
      keys: createKeyRing({ publicKeys: [keys.publicKey, other.publicKey] }),
      issuer,
      audience,
    });
    const withoutKid = handSigned({ alg: 'RS256', typ: 'at+jwt' }, validPayload());
    await expect(verifier.verify(withoutKid)).resolves.toMatchObject({ userId: 'u1' });
    await expect(twoKeys.verify(withoutKid)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
    await expect(twoKeys.verify(await signer.sign(viewer))).resolves.toEqual(viewer);
    await expectRejected(handSigned({ alg: 'RS256', typ: 'at+jwt', kid: 'unknown' }, validPayload()));
    await expectRejected(handSigned({ alg: 'RS256', typ: 'at+jwt', kid: 42 }, validPayload()));
    // A kid the ring holds does not make another key's signature valid.
    const [, payload, signature] = (
      await createAccessTokenSigner({ privateKeyPem: other.privateKey, issuer, audience }).sign(viewer)
    ).split('.');
    await expectRejected(`${b64({ alg: 'RS256', typ: 'at+jwt', kid })}.${payload}.${signature}`);
  });

  it('rotates keys without logging anyone out', async () => {
    const oldKeys = keyPair();
    const newKeys = keyPair();
    const oldSigner = createAccessTokenSigner({ privateKeyPem: oldKeys.privateKey, issuer, audience });
    const tokenBeforeRotation = await oldSigner.sign(viewer);

    // Step 1-2: publish the new key next to the old one, then sign with the new key.
    const duringRotation = createKeyRing({
      privateKey: newKeys.privateKey,
      publicKeys: `${newKeys.publicKey}
${oldKeys.publicKey}`,
    });
    const rotatingSigner = createAccessTokenSigner({ key: duringRotation.signingKey!, issuer, audience });
    const rotatingVerifier = createAccessTokenVerifier({ keys: duringRotation, issuer, audience });
    const tokenAfterRotation = await rotatingSigner.sign(viewer);
    await expect(rotatingVerifier.verify(tokenBeforeRotation)).resolves.toEqual(viewer);
    await expect(rotatingVerifier.verify(tokenAfterRotation)).resolves.toEqual(viewer);

    // Step 3: once old tokens have expired, drop the old key; its tokens stop working.
    const afterRotation = createAccessTokenVerifier({ publicKeyPem: newKeys.publicKey, issuer, audience });
    await expect(afterRotation.verify(tokenAfterRotation)).resolves.toEqual(viewer);
    await expect(afterRotation.verify(tokenBeforeRotation)).rejects.toMatchObject({
      code: ErrorCode.UNAUTHENTICATED,
    });
  });
});

describe('access tokens: the verified-token cache', () => {
  /** A ring over the real keys that counts lookups: each full verification looks the key up once by kid. */
  function countingRing() {
    const ring = createKeyRing({ publicKeys: keys.publicKey });
    const counter = { lookups: 0 };
    const counted: KeyRing = {
      signingKey: undefined,
      verificationKeys: ring.verificationKeys,
      find: (kid) => {
        counter.lookups += 1;
        return ring.find(kid);
      },
    };
    return { ring: counted, counter };
  }
  const start = Date.parse('2026-01-01T00:00:00Z');

  it('verifies a token in full once, then answers from the cache until the token expires (no tolerance)', async () => {
    const { ring, counter } = countingRing();
    let clock = start;
    const cached = createAccessTokenVerifier({ keys: ring, issuer, audience, now: () => clock });
    const token = await signer.sign(viewer, { ttlSeconds: 60, issuedAt: new Date(start) });

    await expect(cached.verify(token)).resolves.toEqual(viewer);
    await expect(cached.verify(token)).resolves.toEqual(viewer);
    expect(counter.lookups).toBe(1);

    // At `exp` the entry is dropped: the token is verified in full again (and still passes within the
    // 5-second tolerance, without being remembered), then refused once past the tolerance.
    clock = start + 60_000;
    await expect(cached.verify(token)).resolves.toEqual(viewer);
    await expect(cached.verify(token)).resolves.toEqual(viewer);
    expect(counter.lookups).toBe(3);
    clock = start + 65_000;
    await expect(cached.verify(token)).rejects.toMatchObject({ code: ErrorCode.UNAUTHENTICATED });
  });

  it('answers each token with its own viewer: no reuse across users or sessions', async () => {
    const { ring } = countingRing();
    const cached = createAccessTokenVerifier({ keys: ring, issuer, audience });
    const alice = { userId: '0b9f0a5e-5a34-4d8e-9b6c-2f3d4e5f6a7b', roles: ['member'], sessionId: 's-alice' };
    const bob = { userId: '1c8e1b6f-6b45-4e9f-8c7d-3a4b5c6d7e8f', roles: ['admin'], sessionId: 's-bob' };
    const aliceToken = await signer.sign(alice);
    const bobToken = await signer.sign(bob);
    await expect(cached.verify(aliceToken)).resolves.toEqual(alice);
    await expect(cached.verify(bobToken)).resolves.toEqual(bob);
    await expect(cached.verify(aliceToken)).resolves.toEqual(alice);
    await expect(cached.verify(bobToken)).resolves.toEqual(bob);
  });

  it('never lets a cached token vouch for a tampered copy of it', async () => {
    const cached = createAccessTokenVerifier({ keys: countingRing().ring, issuer, audience });
    const token = await signer.sign(viewer);
    await cached.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const otherPayload = b64({ ...decodeJwt(token), sub: 'someone-else' });
    await expect(cached.verify(`${header}.${otherPayload}.${signature}`)).rejects.toMatchObject({
      code: ErrorCode.UNAUTHENTICATED,
    });
    const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
    await expect(cached.verify(`${header}.${payload}.${flipped}`)).rejects.toMatchObject({
      code: ErrorCode.UNAUTHENTICATED,
    });
  });

  it('forgets the least recently used token beyond its size, and can be turned off', async () => {
    const { ring, counter } = countingRing();
    const small = createAccessTokenVerifier({ keys: ring, issuer, audience, verifiedTokenCacheSize: 2 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((userId) => signer.sign({ userId, roles: [] })));
    for (const token of [a, b, a, c]) await small.verify(token!); // a, b verified; a hit; c evicts b
    expect(counter.lookups).toBe(3);
    await small.verify(a!);
    expect(counter.lookups).toBe(3);
    await small.verify(b!);
    expect(counter.lookups).toBe(4);

    const off = countingRing();
    const uncached = createAccessTokenVerifier({
      keys: off.ring,
      issuer,
      audience,
      verifiedTokenCacheSize: 0,
    });
    await uncached.verify(a!);
    await uncached.verify(a!);
    expect(off.counter.lookups).toBe(2);
  });

  it('hands out viewers that cannot be changed for the next request', async () => {
    const cached = createAccessTokenVerifier({ keys: countingRing().ring, issuer, audience });
    const first = await cached.verify(await signer.sign(viewer));
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.roles)).toBe(true);
  });
});

describe('bearerTokenFrom', () => {
  it('extracts the token, case-insensitively on the scheme', () => {
    expect(bearerTokenFrom('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerTokenFrom('bearer abc')).toBe('abc');
  });

  it('treats a missing header as anonymous', () => {
    expect(bearerTokenFrom(undefined)).toBeUndefined();
    expect(bearerTokenFrom('')).toBeUndefined();
  });

  it('rejects other schemes instead of silently ignoring them', () => {
    expect(() => bearerTokenFrom('Basic dXNlcjpwYXNz')).toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED' }),
    );
    expect(() => bearerTokenFrom('Bearer')).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });
});
