import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ConfigError } from '@gatehouse/config';
import { createLogger } from '@gatehouse/logger';
import { createAccessTokenSigner, parsePrivateKey } from '@gatehouse/service';
import { start, type RunningGateway } from './main';
import { WELL_KNOWN_CACHE_CONTROL } from './well-known';

/** /.well-known/* through the gateway started from configuration, as `npm start` and production run it. */
process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';

const logger = createLogger({ name: 'well-known-test', level: 'silent' });

function rsaPem(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const current = rsaPem();
const previous = rsaPem();
const audience = 'gatehouse';

describe('gateway /.well-known', () => {
  let gateway: RunningGateway;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gateway = await start({
      env: {
        GATEWAY_PORT: String(port),
        JWT_ISSUER: base,
        // Mid-rotation: the current key and the one before it, as two PEM blocks on one line.
        JWT_PUBLIC_KEY: `${current.publicKey}${previous.publicKey}`.replace(/\n/g, '\\n'),
      },
      logger,
    });
  });

  afterAll(() => gateway.stop());

  it('publishes every configured key as a cacheable, CORS-readable JWKS', async () => {
    const response = await fetch(`${base}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe(WELL_KNOWN_CACHE_CONTROL);
    expect(response.headers.get('cache-control')).toContain('max-age=300');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const body = (await response.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys.map((key) => key.kid)).toEqual([
      parsePrivateKey(current.privateKey).kid,
      parsePrivateKey(previous.privateKey).kid,
    ]);
    for (const key of body.keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    }
  });

  it('serves a discovery document that leads a standard client to keys that verify our tokens', async () => {
    const response = await fetch(`${base}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe(WELL_KNOWN_CACHE_CONTROL);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const discovery = (await response.json()) as { issuer: string; jwks_uri: string };
    expect(discovery).toMatchObject({
      issuer: base,
      jwks_uri: `${base}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: ['RS256'],
    });

    const keySet = createRemoteJWKSet(new URL(discovery.jwks_uri));
    for (const keys of [current, previous]) {
      const signer = createAccessTokenSigner({ privateKeyPem: keys.privateKey, issuer: base, audience });
      const token = await signer.sign({ userId: 'u1', roles: ['member'], permissions: [] });
      const { payload } = await jwtVerify(token, keySet, {
        issuer: discovery.issuer,
        audience,
        typ: 'at+jwt',
      });
      expect(payload.sub).toBe('u1');
    }
    const stranger = createAccessTokenSigner({ privateKeyPem: rsaPem().privateKey, issuer: base, audience });
    await expect(jwtVerify(await stranger.sign({ userId: 'u1', roles: [] }), keySet)).rejects.toThrow();
  });

  it('answers conditional requests, HEAD and CORS preflight, ignores the query string, refuses writes', async () => {
    const url = `${base}/.well-known/jwks.json`;
    const first = await fetch(`${url}?v=1`);
    const etag = first.headers.get('etag');
    expect(first.status).toBe(200);
    expect(etag).toMatch(/^".+"$/);

    const notModified = await fetch(url, { headers: { 'if-none-match': etag ?? '' } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('cache-control')).toBe(WELL_KNOWN_CACHE_CONTROL);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');

    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.test', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('GET');

    const post = await fetch(url, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS');

    expect((await fetch(`${base}/.well-known/other`)).status).toBe(404);
  });
});

describe('gateway /.well-known configuration', () => {
  it('publishes an empty key set when JWT_PUBLIC_KEY is unset', async () => {
    const port = await freePort();
    const gateway = await start({ env: { GATEWAY_PORT: String(port) }, logger });
    try {
      const response = await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`);
      expect(await response.json()).toEqual({ keys: [] });
      const discovery = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`);
      expect(await discovery.json()).toMatchObject({
        issuer: 'http://127.0.0.1:4000',
        jwks_uri: 'http://127.0.0.1:4000/.well-known/jwks.json',
      });
    } finally {
      await gateway.stop();
    }
  });

  it('accepts a JWKS in JWT_PUBLIC_KEY and refuses private or malformed keys at startup', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const port = String(await freePort());
    const gateway = await start({
      env: {
        GATEWAY_PORT: port,
        JWT_PUBLIC_KEY: JSON.stringify({ keys: [publicKey.export({ format: 'jwk' })] }),
      },
      logger,
    });
    await gateway.stop();

    for (const [value, message] of [
      [JSON.stringify(privateKey.export({ format: 'jwk' })), /private key members/],
      ['not a key', /must be PEM/],
    ] as const) {
      const attempt = start({
        env: { GATEWAY_PORT: port, JWT_PUBLIC_KEY: value, JWT_ISSUER: 'ftp://x' },
        logger,
      });
      await expect(attempt).rejects.toBeInstanceOf(ConfigError);
      await expect(attempt).rejects.toMatchObject({
        issues: [
          { variable: 'JWT_ISSUER', message: 'must be an http:// or https:// URL' },
          { variable: 'JWT_PUBLIC_KEY', message: expect.stringMatching(message) },
        ],
      });
    }
  });
});
