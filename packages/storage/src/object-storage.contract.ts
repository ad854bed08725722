// The behaviour every ObjectStorage must have; run against each implementation (excluded from the build).
import { randomBytes } from 'node:crypto';
import { InvalidObjectKeyError } from './object-key';
import {
  MAX_SIGNED_URL_SECONDS,
  PRIVATE_CACHE_CONTROL,
  PUBLIC_CACHE_CONTROL,
  type ObjectStorage,
} from './object-storage';

export interface ContractStorageOptions {
  /** Clock the storage signs URLs with. Whatever serves the URLs must check them against the real clock. */
  now?: () => Date;
}

/**
 * Registers the ObjectStorage contract for one implementation. `factory` must return a fresh, empty storage
 * whose public and signed URLs can be fetched over HTTP from the test process.
 */
export function describeObjectStorageContract(
  name: string,
  factory: (options: ContractStorageOptions) => ObjectStorage | Promise<ObjectStorage>,
): void {
  describe(`ObjectStorage contract: ${name}`, () => {
    let storage: ObjectStorage;

    beforeEach(async () => {
      storage = await factory({});
    });

    afterEach(async () => {
      await storage.close();
    });

    const put = (key: string, body: string | Buffer, contentType = 'text/plain') =>
      storage.put(key, Buffer.isBuffer(body) ? body : Buffer.from(body), { contentType });

    it('returns null for a missing key', async () => {
      expect(await storage.get('exports/missing.json')).toBeNull();
    });

    it('stores any bytes with their content type, and replaces them on a second put', async () => {
      const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);
      await storage.put('public/avatars/u1/a/300.webp', bytes, { contentType: 'image/webp' });
      const stored = await storage.get('public/avatars/u1/a/300.webp');
      expect(stored?.body.equals(bytes)).toBe(true);
      expect(stored?.contentType).toBe('image/webp');

      await storage.put('public/avatars/u1/a/300.webp', Buffer.from('{"v":2}'), {
        contentType: 'application/json; charset=utf-8',
      });
      const replaced = await storage.get('public/avatars/u1/a/300.webp');
      expect(replaced?.body.toString()).toBe('{"v":2}');
      expect(replaced?.contentType).toBe('application/json; charset=utf-8');
    });

    it('keeps an empty body', async () => {
      await put('exports/empty.txt', Buffer.alloc(0));
      expect((await storage.get('exports/empty.txt'))?.body.length).toBe(0);
    });

    it('defaults Cache-Control by visibility and keeps an explicit one', async () => {
      await put('public/a.txt', 'a');
      await put('exports/b.txt', 'b');
      await storage.put('exports/c.txt', Buffer.from('c'), {
        contentType: 'text/plain',
        cacheControl: 'no-cache',
      });
      expect((await storage.get('public/a.txt'))?.cacheControl).toBe(PUBLIC_CACHE_CONTROL);
      expect((await storage.get('exports/b.txt'))?.cacheControl).toBe(PRIVATE_CACHE_CONTROL);
      expect((await storage.get('exports/c.txt'))?.cacheControl).toBe('no-cache');
    });

    it('lets a key and keys below it coexist', async () => {
      await put('users/u1', 'file');
      await put('users/u1/avatar', 'nested');
      expect((await storage.get('users/u1'))?.body.toString()).toBe('file');
      expect((await storage.get('users/u1/avatar'))?.body.toString()).toBe('nested');
    });

    it('deletes an object, and a missing key without complaint', async () => {
      await put('exports/x.json', 'x');
      await storage.delete('exports/x.json');
      expect(await storage.get('exports/x.json')).toBeNull();
      await expect(storage.delete('exports/x.json')).resolves.toBeUndefined();
      await expect(storage.delete('never/was/here')).resolves.toBeUndefined();
    });

    it('deletes every object under a prefix, counting them, and nothing else', async () => {
      const keys = [
        'public/avatars/u1/a/50.webp',
        'public/avatars/u1/a/150.webp',
        'public/avatars/u1/b/original.webp',
        'public/avatars/u1/c',
        'public/avatars/u12/a/50.webp',
        'public/avatars/u2/a/50.webp',
        'exports/u1/export.zip',
      ];
      for (const key of keys) await put(key, key);

      expect(await storage.deletePrefix('public/avatars/u1/')).toBe(4);
      expect(await storage.get('public/avatars/u1/a/50.webp')).toBeNull();
      expect(await storage.get('public/avatars/u1/c')).toBeNull();
      for (const kept of [
        'public/avatars/u12/a/50.webp',
        'public/avatars/u2/a/50.webp',
        'exports/u1/export.zip',
      ]) {
        expect((await storage.get(kept))?.body.toString()).toBe(kept);
      }
      // A plain string prefix, as in S3: `u1` also matches `u12`.
      expect(await storage.deletePrefix('public/avatars/u1')).toBe(1);
      expect(await storage.get('public/avatars/u12/a/50.webp')).toBeNull();
      expect(await storage.deletePrefix('public/avatars/u1/')).toBe(0);
      expect(await storage.deletePrefix('nothing/here/')).toBe(0);
      expect((await storage.get('public/avatars/u2/a/50.webp'))?.body.toString()).toBe(
        'public/avatars/u2/a/50.webp',
      );
    });

    it('matches a prefix ending inside a file name, but not the storage suffix of another key', async () => {
      await put('exports/abc', '1');
      await put('exports/abcd', '2');
      await put('exports/ab/c', '3');
      expect(await storage.deletePrefix('exports/abc.')).toBe(0);
      expect(await storage.deletePrefix('exports/abc')).toBe(2);
      expect((await storage.get('exports/ab/c'))?.body.toString()).toBe('3');
    });

    it('deletes more objects than fit in one listing page', async () => {
      for (let i = 0; i < 7; i += 1) await put(`bulk/${i}`, String(i));
      expect(await storage.deletePrefix('bulk/')).toBe(7);
      expect(await storage.deletePrefix('bulk/')).toBe(0);
    });

    it('refuses keys that could escape or need encoding, and an empty prefix', async () => {
      const invalid = [
        '',
        '/abs',
        'trailing/',
        'a//b',
        '../etc/passwd',
        'a/../b',
        'a/./b',
        'a..b',
        'sp ace',
        'per%2e%2e',
        'back\\slash',
        'new\nline',
        'ü',
        'x'.repeat(901),
      ];
      for (const key of invalid) {
        await expect(storage.put(key, Buffer.from('x'), { contentType: 'text/plain' })).rejects.toThrow(
          InvalidObjectKeyError,
        );
        await expect(storage.get(key)).rejects.toThrow(InvalidObjectKeyError);
        await expect(storage.delete(key)).rejects.toThrow(InvalidObjectKeyError);
        await expect(storage.signedUrl(key, { expiresInSeconds: 60 })).rejects.toThrow(InvalidObjectKeyError);
      }
      expect(() => storage.publicUrl('public/../secret')).toThrow(InvalidObjectKeyError);
      await expect(storage.deletePrefix('')).rejects.toThrow(InvalidObjectKeyError);
      await expect(storage.deletePrefix('../')).rejects.toThrow(InvalidObjectKeyError);
    });

    it('refuses a content type or cache control that could inject headers', async () => {
      await expect(
        storage.put('exports/a', Buffer.from('x'), { contentType: 'text/html\r\nx: y' }),
      ).rejects.toThrow(RangeError);
      await expect(storage.put('exports/a', Buffer.from('x'), { contentType: 'not a type' })).rejects.toThrow(
        RangeError,
      );
      await expect(
        storage.put('exports/a', Buffer.from('x'), { contentType: 'text/plain', cacheControl: 'a\nb' }),
      ).rejects.toThrow(RangeError);
      expect(await storage.get('exports/a')).toBeNull();
    });

    it('serves a public object at its public URL with its type and cache headers', async () => {
      await storage.put('public/avatars/u1/a/50.webp', Buffer.from('avatar-bytes'), {
        contentType: 'image/webp',
      });
      const url = storage.publicUrl('public/avatars/u1/a/50.webp');
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*public\/avatars\/u1\/a\/50\.webp$/);
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/webp');
      expect(response.headers.get('cache-control')).toBe(PUBLIC_CACHE_CONTROL);
      expect(await response.text()).toBe('avatar-bytes');
    });

    it('gives public URLs only for public keys', () => {
      expect(() => storage.publicUrl('exports/u1/export.zip')).toThrow(RangeError);
    });

    it('serves a private object through a signed URL', async () => {
      await storage.put('exports/u1/export.json', Buffer.from('{"ok":true}'), {
        contentType: 'application/json',
      });
      const url = await storage.signedUrl('exports/u1/export.json', {
        expiresInSeconds: MAX_SIGNED_URL_SECONDS,
      });
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({ ok: true });
    });

    it('refuses a signed URL after it expired', async () => {
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      const past = await factory({ now: () => twoHoursAgo });
      try {
        await past.put('exports/u1/old.json', Buffer.from('{}'), { contentType: 'application/json' });
        const url = await past.signedUrl('exports/u1/old.json', { expiresInSeconds: 3600 });
        const response = await fetch(url);
        expect(response.status).toBe(403);
        expect(await response.text()).not.toContain('{}');
      } finally {
        await past.close();
      }
    });

    it('accepts signed URL lifetimes from 1 second to 7 days only', async () => {
      for (const expiresInSeconds of [0, -1, 1.5, Number.NaN, MAX_SIGNED_URL_SECONDS + 1]) {
        await expect(storage.signedUrl('exports/a', { expiresInSeconds })).rejects.toThrow(RangeError);
      }
      await expect(storage.signedUrl('exports/a', { expiresInSeconds: 1 })).resolves.toMatch(/^http/);
    });

    it('answers ping and closes idempotently', async () => {
      await expect(storage.ping()).resolves.toBeUndefined();
      await storage.close();
      await storage.close();
    });
  });
}
