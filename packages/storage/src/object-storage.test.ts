import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestS3Server, type TestS3Server } from '@gatehouse/testing';
import { createFileRoutes, type FileRouteHandler } from './file-routes';
import { serveRoutes } from './file-routes.test-support';
import { createFilesystemStorage } from './filesystem-storage';
import { describeObjectStorageContract, type ContractStorageOptions } from './object-storage.contract';
import { createS3Storage, type S3StorageOptions } from './s3-storage';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh directory served by the file routes over real HTTP. */
async function servedFilesystemStorage(options: ContractStorageOptions) {
  const rootDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-storage-'));
  let routes: FileRouteHandler = async () => false;
  const service = await serveRoutes((req, res, requestId) => routes(req, res, requestId));
  cleanups.push(async () => {
    await service.stop();
    await rm(rootDir, { recursive: true, force: true });
  });
  const settings = {
    rootDir,
    publicBaseUrl: `${service.url}/files`,
    signingSecret: 'contract-test-signing-secret-0123456789',
  };
  // The routes check signatures against the real clock, like the S3 server; `now` only moves the signer's clock.
  routes = createFileRoutes(createFilesystemStorage(settings));
  return createFilesystemStorage({ ...settings, now: options.now });
}

describeObjectStorageContract('filesystem', servedFilesystemStorage);

describe('S3 against a local S3-compatible server', () => {
  let s3: TestS3Server;
  let base: S3StorageOptions;
  let namespace = 0;

  beforeAll(async () => {
    s3 = await startTestS3Server({ buckets: ['gatehouse-test'] });
    base = {
      bucket: 'gatehouse-test',
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
    };
  });

  afterAll(() => s3?.close());

  // Each storage gets its own key prefix, so every test starts empty. A small page size makes deletePrefix paginate.
  describeObjectStorageContract('s3', ({ now }) =>
    createS3Storage({ ...base, keyPrefix: `run-${randomUUID()}/${namespace++}/`, listPageSize: 3, now }),
  );

  describe('S3 specifics', () => {
    const storages: Array<{ close(): Promise<void> }> = [];
    afterEach(async () => {
      for (const storage of storages.splice(0)) await storage.close();
    });
    const storage = (options: Partial<S3StorageOptions> = {}) => {
      const created = createS3Storage({ ...base, keyPrefix: `run-${randomUUID()}/`, ...options });
      storages.push(created);
      return created;
    };

    it('writes Content-Type and Cache-Control on the object itself (seen by a plain HTTP client)', async () => {
      const keyPrefix = `run-${randomUUID()}/`;
      const s = storage({ keyPrefix });
      await s.put('public/x.webp', Buffer.from('img'), {
        contentType: 'image/webp',
        cacheControl: 'max-age=60',
      });
      const response = await fetch(`${s3.endpoint}/gatehouse-test/${keyPrefix}public/x.webp`);
      expect(response.headers.get('content-type')).toBe('image/webp');
      expect(response.headers.get('cache-control')).toBe('max-age=60');
    });

    it('presigns a SigV4 GET that plain fetch can use, and the server refuses it once expired', async () => {
      let now = new Date();
      const s = storage({ now: () => now });
      await s.put('exports/u1/data.json', Buffer.from('{"a":1}'), { contentType: 'application/json' });
      const url = new URL(await s.signedUrl('exports/u1/data.json', { expiresInSeconds: 600 }));
      expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
      expect(url.searchParams.get('X-Amz-Expires')).toBe('600');
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      expect(await (await fetch(url)).json()).toEqual({ a: 1 });

      now = new Date(Date.now() - 11 * 60 * 1000);
      const expired = await s.signedUrl('exports/u1/data.json', { expiresInSeconds: 600 });
      const refused = await fetch(expired);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('Request has expired');
    });

    it('builds public URLs from publicBaseUrl (a CDN) or from the bucket URL', () => {
      const cdn = storage({ keyPrefix: 'gh/', publicBaseUrl: 'https://cdn.example.com/assets/' });
      expect(cdn.publicUrl('public/a.webp')).toBe('https://cdn.example.com/assets/gh/public/a.webp');
      const aws = storage({
        endpoint: undefined,
        forcePathStyle: false,
        keyPrefix: undefined,
        region: 'eu-west-1',
      });
      expect(aws.publicUrl('public/a.webp')).toBe(
        'https://gatehouse-test.s3.eu-west-1.amazonaws.com/public/a.webp',
      );
      const vhost = storage({
        endpoint: 'https://s3.example.net',
        forcePathStyle: false,
        keyPrefix: undefined,
      });
      expect(vhost.publicUrl('public/a.webp')).toBe('https://gatehouse-test.s3.example.net/public/a.webp');
    });

    it('reports a missing bucket as a failure, not as a missing object', async () => {
      const missing = storage({ bucket: 'no-such-bucket' });
      await expect(missing.get('exports/a')).rejects.toMatchObject({ name: 'NoSuchBucket' });
      await expect(missing.ping()).rejects.toThrow();
    });

    it('validates its options', () => {
      expect(() => createS3Storage({ ...base, keyPrefix: 'no-slash' })).toThrow('keyPrefix must end with /');
      expect(() => createS3Storage({ ...base, keyPrefix: '../' })).toThrow(RangeError);
      expect(() => createS3Storage({ ...base, listPageSize: 1001 })).toThrow('listPageSize');
      expect(() => createS3Storage({ ...base, endpoint: 'ftp://x' })).toThrow('endpoint');
    });
  });
});
