import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { ErrorCode } from '@gatehouse/errors';
import { bearerTokenFrom, createAccessTokenSigner, createAccessTokenVerifier } from './auth';

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
