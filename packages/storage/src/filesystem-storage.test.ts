import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serveRoutes, type ServedRoutes } from './file-routes.test-support';
import { StorageErrorCode } from './error-codes';
import { createFileRoutes, type FileRouteHandler } from './file-routes';
import { createFilesystemStorage, type FilesystemStorage } from './filesystem-storage';
import { PRIVATE_CACHE_CONTROL, PUBLIC_CACHE_CONTROL } from './object-storage';

const SECRET = 'filesystem-test-signing-secret-0123456789';

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends `rawPath` byte for byte (fetch would normalise `..` and percent-encoding away). */
function send(
  baseUrl: string,
  rawPath: string,
  init: { method?: string; headers?: Record<string, string> } = {},
) {
  const { hostname, port } = new URL(baseUrl);
  return new Promise<RawResponse>((resolve, reject) => {
    const req = request(
      { hostname, port, path: rawPath, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const pathOf = (url: string) => {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
};

async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(directory, path.join(entry.parentPath, entry.name)))
    .sort();
}

describe('filesystem storage served by createFileRoutes', () => {
  let workDir: string;
  let rootDir: string;
  let service: ServedRoutes;
  let clock: Date;
  let storage: FilesystemStorage;

  beforeEach(async () => {
    workDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-storage-'));
    rootDir = path.join(workDir, 'storage');
    clock = new Date('2030-01-01T00:00:00Z');
    let routes: FileRouteHandler = async () => false;
    service = await serveRoutes((req, res, requestId) => routes(req, res, requestId));
    storage = createFilesystemStorage({
      rootDir,
      publicBaseUrl: `${service.url}/files/`,
      signingSecret: SECRET,
      now: () => clock,
    });
    routes = createFileRoutes(storage);
  });

  afterEach(async () => {
    await service.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  const get = (rawPath: string, headers?: Record<string, string>) => send(service.url, rawPath, { headers });
  const json = (response: RawResponse) => JSON.parse(response.body) as { error: string; code: string };

  describe('private objects', () => {
    beforeEach(async () => {
      await storage.put('exports/u1/export.json', Buffer.from('{"mine":true}'), {
        contentType: 'application/json',
      });
      await storage.put('exports/u2/export.json', Buffer.from('{"other":true}'), {
        contentType: 'application/json',
      });
    });

    it('signs URLs as <publicBaseUrl>/<key>?expires=<unix seconds>&signature=<HMAC>', async () => {
      const url = new URL(await storage.signedUrl('exports/u1/export.json', { expiresInSeconds: 600 }));
      expect(url.origin + url.pathname).toBe(`${service.url}/files/exports/u1/export.json`);
      expect(url.searchParams.get('expires')).toBe(String(clock.getTime() / 1000 + 600));
      expect(url.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('serves a validly signed object with private, non-sniffable headers', async () => {
      const response = await get(
        pathOf(await storage.signedUrl('exports/u1/export.json', { expiresInSeconds: 60 })),
      );
      expect(response.status).toBe(200);
      expect(response.body).toBe('{"mine":true}');
      expect(response.headers['content-type']).toBe('application/json');
      expect(response.headers['cache-control']).toBe(PRIVATE_CACHE_CONTROL);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
      expect(response.headers['cross-origin-resource-policy']).toBeUndefined();
      expect(response.headers['x-request-id']).toBeDefined();
    });

    it('honours the URL until the last second of its lifetime, then answers SIGNED_URL_EXPIRED', async () => {
      const signed = pathOf(await storage.signedUrl('exports/u1/export.json', { expiresInSeconds: 60 }));
      clock = new Date(clock.getTime() + 59_999);
      expect((await get(signed)).status).toBe(200);
      clock = new Date(clock.getTime() + 1);
      const expired = await get(signed);
      expect(expired.status).toBe(403);
      expect(json(expired)).toEqual({
        error: 'This link has expired',
        code: StorageErrorCode.SIGNED_URL_EXPIRED,
      });
      expect(expired.body).not.toContain('mine');
    });

    it('refuses a tampered signature, key or expiry with SIGNED_URL_INVALID', async () => {
      const signed = new URL(await storage.signedUrl('exports/u1/export.json', { expiresInSeconds: 60 }));
      const signature = signed.searchParams.get('signature')!;
      const expires = signed.searchParams.get('expires')!;
      const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
      const attempts = [
        `/files/exports/u1/export.json?expires=${expires}&signature=${flipped}`,
        `/files/exports/u1/export.json?expires=${expires}&signature=${signature.slice(0, -1)}`,
        `/files/exports/u2/export.json?expires=${expires}&signature=${signature}`,
        `/files/exports/u1/export.json?expires=${Number(expires) + 86_400}&signature=${signature}`,
        `/files/exports/u1/export.json?expires=${expires}`,
        `/files/exports/u1/export.json?signature=${signature}`,
        `/files/exports/u1/export.json?expires=soon&signature=${signature}`,
        '/files/exports/u1/export.json',
      ];
      for (const attempt of attempts) {
        const response = await get(attempt);
        expect({ attempt, status: response.status }).toEqual({ attempt, status: 403 });
        expect(json(response)).toEqual({
          error: 'This link is not valid',
          code: StorageErrorCode.SIGNED_URL_INVALID,
        });
      }
    });

    it('refuses a URL signed with another secret', async () => {
      const other = createFilesystemStorage({
        rootDir,
        publicBaseUrl: `${service.url}/files`,
        signingSecret: `${SECRET}-rotated`,
        now: () => clock,
      });
      const response = await get(
        pathOf(await other.signedUrl('exports/u1/export.json', { expiresInSeconds: 60 })),
      );
      expect(json(response).code).toBe(StorageErrorCode.SIGNED_URL_INVALID);
    });

    it('reports a tampered and expired URL as invalid, never as expired', async () => {
      const signed = new URL(await storage.signedUrl('exports/u1/export.json', { expiresInSeconds: 60 }));
      clock = new Date(clock.getTime() + 120_000);
      signed.searchParams.set('signature', 'A'.repeat(43));
      expect(json(await get(pathOf(signed.toString()))).code).toBe(StorageErrorCode.SIGNED_URL_INVALID);
    });

    it('checks the signature before looking for the object, so unsigned requests learn nothing', async () => {
      const existing = await get('/files/exports/u1/export.json');
      const missing = await get('/files/exports/nobody/export.json');
      expect([existing.status, missing.status]).toEqual([403, 403]);
      expect(existing.body).toBe(missing.body);
      const signedMissing = await storage.signedUrl('exports/nobody/export.json', { expiresInSeconds: 60 });
      const notFound = await get(pathOf(signedMissing));
      expect(notFound.status).toBe(404);
      expect(json(notFound).code).toBe(StorageErrorCode.OBJECT_NOT_FOUND);
    });
  });

  describe('public objects', () => {
    beforeEach(async () => {
      await storage.put('public/avatars/u1/k/50.webp', Buffer.from('webp-bytes'), {
        contentType: 'image/webp',
      });
    });

    it('serves them without a signature, cacheable for a year, embeddable cross-origin', async () => {
      const response = await get(pathOf(storage.publicUrl('public/avatars/u1/k/50.webp')));
      expect(response.status).toBe(200);
      expect(response.body).toBe('webp-bytes');
      expect(response.headers['content-type']).toBe('image/webp');
      expect(response.headers['content-length']).toBe('10');
      expect(response.headers['cache-control']).toBe(PUBLIC_CACHE_CONTROL);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['cross-origin-resource-policy']).toBe('cross-origin');
    });

    it('answers HEAD without a body and a matching If-None-Match with 304', async () => {
      const head = await send(service.url, '/files/public/avatars/u1/k/50.webp', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
      expect(head.headers['content-length']).toBe('10');
      const etag = head.headers.etag!;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
      const cached = await get('/files/public/avatars/u1/k/50.webp', { 'if-none-match': `"other", ${etag}` });
      expect(cached.status).toBe(304);
      expect(cached.body).toBe('');
      expect((await get('/files/public/avatars/u1/k/50.webp', { 'if-none-match': '"other"' })).status).toBe(
        200,
      );
    });

    it('answers a missing public object with 404 OBJECT_NOT_FOUND', async () => {
      const response = await get('/files/public/avatars/u1/k/missing.webp');
      expect(response.status).toBe(404);
      expect(json(response).code).toBe(StorageErrorCode.OBJECT_NOT_FOUND);
    });
  });

  it('makes path traversal impossible: any path that is not a valid key gets 400', async () => {
    await writeFile(path.join(workDir, 'secret.txt'), 'TOP-SECRET');
    await storage.put('public/ok.txt', Buffer.from('ok'), { contentType: 'text/plain' });
    const attempts = [
      '/files/../secret.txt',
      '/files/public/../../secret.txt',
      '/files/public/%2e%2e/%2e%2e/secret.txt',
      '/files/%2E%2E/secret.txt',
      '/files/public/..%2f..%2fsecret.txt',
      '/files/public/..\\..\\secret.txt',
      '/files//etc/passwd',
      '/files/public/ok.txt%00',
      '/files/public/ok.txt/',
      '/files/public/./ok.txt',
      '/files/',
    ];
    for (const attempt of attempts) {
      const response = await get(attempt);
      expect({ attempt, status: response.status }).toEqual({ attempt, status: 400 });
      expect(json(response).code).toBe(StorageErrorCode.OBJECT_KEY_INVALID);
      expect(response.body).not.toContain('TOP-SECRET');
    }
    expect((await get('/files/public/ok.txt')).body).toBe('ok');
  });

  it('allows only GET and HEAD, and leaves other paths to the next route', async () => {
    const post = await send(service.url, '/files/public/ok.txt', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(json(post).code).toBe(StorageErrorCode.METHOD_NOT_ALLOWED);
    for (const other of ['/other', '/files', '/filesystem/x']) {
      const response = await get(other);
      expect(response.status).toBe(404);
      expect(JSON.parse(response.body)).toEqual({ error: 'Not found' });
    }
  });

  it('serves under an explicit pathPrefix and refuses one that would swallow every route', () => {
    expect(() => createFileRoutes(storage, { pathPrefix: '/' })).toThrow(RangeError);
    expect(() => createFileRoutes(storage, { pathPrefix: 'files/' })).toThrow(RangeError);
    const rootStorage = createFilesystemStorage({
      rootDir,
      publicBaseUrl: service.url,
      signingSecret: SECRET,
    });
    expect(() => createFileRoutes(rootStorage)).toThrow('publicBaseUrl needs a path');
    expect(() => createFileRoutes(rootStorage, { pathPrefix: '/static/' })).not.toThrow();
  });
});

describe('createFilesystemStorage on disk', () => {
  let rootDir: string;
  let storage: FilesystemStorage;

  beforeEach(async () => {
    rootDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-storage-'));
    storage = createFilesystemStorage({
      rootDir,
      publicBaseUrl: 'http://127.0.0.1:4000/files',
      signingSecret: SECRET,
    });
  });

  afterEach(() => rm(rootDir, { recursive: true, force: true }));

  it('keeps one file per object, no temporary files, and removes directories that become empty', async () => {
    await storage.put('public/avatars/u1/k/50.webp', Buffer.from('a'), { contentType: 'image/webp' });
    await storage.put('public/avatars/u1/k/150.webp', Buffer.from('b'), { contentType: 'image/webp' });
    await storage.put('exports/u1/e.json', Buffer.from('c'), { contentType: 'application/json' });
    expect(await listFiles(rootDir)).toEqual([
      'exports/u1/e.json.~obj',
      'public/avatars/u1/k/150.webp.~obj',
      'public/avatars/u1/k/50.webp.~obj',
    ]);
    await storage.delete('exports/u1/e.json');
    expect(await readdir(rootDir)).toEqual(['public']);
    await storage.deletePrefix('public/avatars/u1/');
    expect(await readdir(rootDir)).toEqual([]);
  });

  it('never shows a partial object under concurrent writes, and leaves no temporary files', async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(256 * 1024, i + 1));
    await Promise.all(bodies.map((body) => storage.put('exports/race.bin', body, { contentType: 'x/y' })));
    const stored = await storage.get('exports/race.bin');
    expect(bodies.some((body) => stored?.body.equals(body))).toBe(true);
    expect(await listFiles(rootDir)).toEqual(['exports/race.bin.~obj']);
  });

  it('reports a corrupt object file instead of pretending it is missing', async () => {
    await storage.put('exports/x', Buffer.from('x'), { contentType: 'text/plain' });
    await writeFile(path.join(rootDir, 'exports', 'x.~obj'), 'garbage');
    await expect(storage.get('exports/x')).rejects.toThrow('corrupt');
  });

  it('creates its directory on ping', async () => {
    const nested = createFilesystemStorage({
      rootDir: path.join(rootDir, 'a', 'b'),
      publicBaseUrl: 'http://127.0.0.1:4000/files',
      signingSecret: SECRET,
    });
    await nested.ping();
    expect(await readdir(path.join(rootDir, 'a'))).toEqual(['b']);
  });

  it('validates its options', () => {
    const base = { rootDir, publicBaseUrl: 'http://127.0.0.1:4000/files', signingSecret: SECRET };
    expect(() => createFilesystemStorage({ ...base, signingSecret: 'short' })).toThrow('at least 32');
    expect(() => createFilesystemStorage({ ...base, publicBaseUrl: 'not a url' })).toThrow('publicBaseUrl');
    expect(() => createFilesystemStorage({ ...base, publicBaseUrl: 'http://x/files?a=1' })).toThrow(
      'publicBaseUrl',
    );
    expect(createFilesystemStorage({ ...base, rootDir: 'relative/dir' }).rootDir).toBe(
      path.resolve('relative/dir'),
    );
  });
});
