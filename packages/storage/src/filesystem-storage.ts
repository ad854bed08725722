import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { assertObjectKey, assertObjectKeyPrefix } from './object-key';
import {
  assertPublicKey,
  assertSignedUrlLifetime,
  normalizeBaseUrl,
  resolvePutOptions,
  type ObjectStorage,
  type PutObjectOptions,
  type SignedUrlOptions,
  type StoredObject,
} from './object-storage';
import {
  EXPIRES_PARAM,
  MIN_SIGNING_SECRET_LENGTH,
  SIGNATURE_PARAM,
  signObjectUrl,
  verifyObjectUrlSignature,
  type SignedUrlVerdict,
} from './signed-url';

export interface FilesystemStorageOptions {
  /** Directory holding the objects; created on first write. Relative paths resolve against the working directory. */
  rootDir: string;
  /**
   * Where {@link createFileRoutes} serves this storage, e.g. `http://127.0.0.1:4000/files`. Public and signed URLs
   * start with it.
   */
  publicBaseUrl: string;
  /** HMAC key of signed URLs, at least 32 characters. Changing it invalidates every signed URL handed out. */
  signingSecret: string;
  /** Clock for signed URLs (tests). Default: the system clock. */
  now?: () => Date;
}

/** The filesystem {@link ObjectStorage}, plus what its HTTP routes need. */
export interface FilesystemStorage extends ObjectStorage {
  readonly driver: 'filesystem';
  /** Absolute path of the storage directory. */
  readonly rootDir: string;
  /** {@link FilesystemStorageOptions.publicBaseUrl} without a trailing slash. */
  readonly publicBaseUrl: string;
  /** Checks the `expires` and `signature` query parameters of a signed URL for `key`. */
  verifySignedUrl(key: string, query: URLSearchParams): SignedUrlVerdict;
}

/**
 * Object files end with this. `~` cannot occur in keys, so an object file never collides with a directory
 * (`a` and `a/b` can both exist, as in S3) and temporary files are never mistaken for objects.
 */
const OBJECT_SUFFIX = '.~obj';
const TEMP_MARKER = '.~tmp-';
/** First line of every object file; the second line is the JSON metadata, the rest is the body. */
const MAGIC = 'gatehouse-object/1\n';

interface ObjectMetadata {
  contentType: string;
  cacheControl: string;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

const isMissing = (error: unknown) => errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR';

function parseObjectFile(data: Buffer, key: string): StoredObject {
  const end = data.indexOf(0x0a, MAGIC.length);
  if (!data.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC)) || end === -1) {
    throw new Error(`storage: object file of "${key}" is corrupt`);
  }
  const metadata = JSON.parse(data.subarray(MAGIC.length, end).toString('utf8')) as ObjectMetadata;
  return {
    body: data.subarray(end + 1),
    contentType: metadata.contentType,
    cacheControl: metadata.cacheControl,
  };
}

class FilesystemObjectStorage implements FilesystemStorage {
  readonly driver = 'filesystem' as const;
  readonly rootDir: string;
  readonly publicBaseUrl: string;
  private readonly signingSecret: string;
  private readonly now: () => Date;

  constructor(options: FilesystemStorageOptions) {
    if (options.signingSecret.length < MIN_SIGNING_SECRET_LENGTH) {
      throw new RangeError(`signingSecret must be at least ${MIN_SIGNING_SECRET_LENGTH} characters`);
    }
    this.rootDir = path.resolve(options.rootDir);
    this.publicBaseUrl = normalizeBaseUrl(options.publicBaseUrl, 'publicBaseUrl');
    this.signingSecret = options.signingSecret;
    this.now = options.now ?? (() => new Date());
  }

  async put(key: string, body: Buffer, options: PutObjectOptions): Promise<void> {
    const metadata: ObjectMetadata = resolvePutOptions(key, options);
    const file = this.fileOf(key);
    const temp = `${file}${TEMP_MARKER}${randomBytes(8).toString('hex')}`;
    const header = Buffer.from(`${MAGIC}${JSON.stringify(metadata)}\n`, 'utf8');
    for (let attempt = 1; ; attempt += 1) {
      try {
        await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
        const handle = await open(temp, 'wx', 0o600);
        try {
          await handle.writev([header, body]);
          // Flushed before the rename, so a crash leaves the old object or the new one, never an empty file.
          await handle.sync();
        } finally {
          await handle.close();
        }
        // rename() replaces atomically: readers see the old or the new object, never a partial one.
        await rename(temp, file);
        return;
      } catch (error) {
        await rm(temp, { force: true });
        // A concurrent delete may remove the emptied directory between mkdir and open: try once more.
        if (attempt === 1 && errorCode(error) === 'ENOENT') continue;
        throw error;
      }
    }
  }

  async get(key: string): Promise<StoredObject | null> {
    const file = this.fileOf(key);
    try {
      return parseObjectFile(await readFile(file), key);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.fileOf(key);
    if (await this.unlinkObject(file)) await this.pruneEmptyDirectories(path.dirname(file));
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertObjectKeyPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const directory = this.resolveInside(slash === -1 ? [] : prefix.slice(0, slash).split('/'));
    const namePrefix = prefix.slice(slash + 1);
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    let removed = 0;
    for (const entry of entries) {
      const full = path.join(directory, entry.name);
      // A directory `abc` holds keys `abc/...`; namePrefix has no '/', so they match when `abc` starts with it.
      if (entry.isDirectory() && entry.name.startsWith(namePrefix)) {
        removed += await this.deleteTree(full);
      } else if (
        entry.isFile() &&
        entry.name.endsWith(OBJECT_SUFFIX) &&
        entry.name.slice(0, -OBJECT_SUFFIX.length).startsWith(namePrefix) &&
        (await this.unlinkObject(full))
      ) {
        removed += 1;
      }
    }
    await this.pruneEmptyDirectories(directory);
    return removed;
  }

  publicUrl(key: string): string {
    assertPublicKey(key);
    return `${this.publicBaseUrl}/${key}`;
  }

  async signedUrl(key: string, options: SignedUrlOptions): Promise<string> {
    assertObjectKey(key);
    assertSignedUrlLifetime(options.expiresInSeconds);
    const expires = Math.floor(this.now().getTime() / 1000) + options.expiresInSeconds;
    const query = new URLSearchParams({
      [EXPIRES_PARAM]: String(expires),
      [SIGNATURE_PARAM]: signObjectUrl(this.signingSecret, key, expires),
    });
    return `${this.publicBaseUrl}/${key}?${query.toString()}`;
  }

  verifySignedUrl(key: string, query: URLSearchParams): SignedUrlVerdict {
    return verifyObjectUrlSignature(this.signingSecret, key, query, this.now().getTime());
  }

  async ping(): Promise<void> {
    await mkdir(this.rootDir, { recursive: true, mode: 0o700 });
    await access(this.rootDir, constants.R_OK | constants.W_OK);
  }

  async close(): Promise<void> {}

  private fileOf(key: string): string {
    assertObjectKey(key);
    return this.resolveInside(key.split('/')) + OBJECT_SUFFIX;
  }

  /** Joins validated key segments under the root; the containment check is a second line of defence. */
  private resolveInside(segments: string[]): string {
    const resolved = path.resolve(this.rootDir, ...segments);
    if (resolved !== this.rootDir && !resolved.startsWith(this.rootDir + path.sep)) {
      throw new Error('storage: path escapes the storage directory');
    }
    return resolved;
  }

  /** @returns whether the object existed. */
  private async unlinkObject(file: string): Promise<boolean> {
    try {
      await unlink(file);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Deletes every object below `directory`, then the directories that became empty. */
  private async deleteTree(directory: string): Promise<number> {
    let removed = 0;
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    for (const entry of entries) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) removed += await this.deleteTree(full);
      else if (entry.isFile() && entry.name.endsWith(OBJECT_SUFFIX) && (await this.unlinkObject(full))) {
        removed += 1;
      }
    }
    await this.removeIfEmpty(directory);
    return removed;
  }

  /** Removes `directory` and its parents up to (not including) the root while they are empty. */
  private async pruneEmptyDirectories(directory: string): Promise<void> {
    let current = directory;
    while (current.startsWith(this.rootDir + path.sep) && (await this.removeIfEmpty(current))) {
      current = path.dirname(current);
    }
  }

  private async removeIfEmpty(directory: string): Promise<boolean> {
    try {
      await rmdir(directory);
      return true;
    } catch {
      // Not empty (another object, or a put in progress), or already gone: either way, leave it.
      return false;
    }
  }
}

/**
 * {@link ObjectStorage} in a local directory, for the embedded single-host deployment. Serve it over HTTP with
 * {@link createFileRoutes}. Every object is one file (metadata line + body) written to a temporary file and
 * renamed into place, so a put is atomic.
 */
export function createFilesystemStorage(options: FilesystemStorageOptions): FilesystemStorage {
  return new FilesystemObjectStorage(options);
}
