import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertObjectKey, assertObjectKeyPrefix } from './object-key';
import {
  assertPublicKey,
  assertSignedUrlLifetime,
  normalizeBaseUrl,
  resolvePutOptions,
  PRIVATE_CACHE_CONTROL,
  type ObjectStorage,
  type PutObjectOptions,
  type SignedUrlOptions,
  type StoredObject,
} from './object-storage';

export interface S3StorageOptions {
  bucket: string;
  /** e.g. `eu-central-1`; MinIO accepts any (conventionally `us-east-1`). */
  region: string;
  /** For S3-compatible stores (MinIO: `http://minio:9000`); unset for AWS. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and most self-hosted stores need. Default false. */
  forcePathStyle?: boolean;
  /** Static credentials; unset: the AWS default chain (environment, instance or task role, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Base of public URLs, e.g. a CDN in front of the bucket (`https://cdn.example.com`); the object key (with
   * `keyPrefix`) is appended. Default: the bucket's own URL.
   */
  publicBaseUrl?: string;
  /** Prepended to every key, to share a bucket (`gatehouse/`). Must end with `/`. Default none. */
  keyPrefix?: string;
  /** Clock used to sign URLs (tests). Default: the system clock. */
  now?: () => Date;
  /** ListObjectsV2 page size of deletePrefix, 1-1000 (tests lower it to exercise pagination). Default 1000. */
  listPageSize?: number;
}

/** DeleteObjects accepts at most 1000 keys per request. */
const MAX_LIST_PAGE_SIZE = 1000;

function isNoSuchKey(error: unknown): boolean {
  return error instanceof S3ServiceException && error.name === 'NoSuchKey';
}

class S3ObjectStorage implements ObjectStorage {
  readonly driver = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly keyPrefix: string;
  private readonly publicBase: string;
  private readonly now: () => Date;
  private readonly listPageSize: number;
  private closed = false;

  constructor(options: S3StorageOptions) {
    if (options.bucket.trim() === '') throw new RangeError('bucket must not be empty');
    this.bucket = options.bucket;
    this.keyPrefix = options.keyPrefix ?? '';
    if (this.keyPrefix !== '') {
      assertObjectKeyPrefix(this.keyPrefix);
      if (!this.keyPrefix.endsWith('/')) throw new RangeError('keyPrefix must end with /');
    }
    this.listPageSize = options.listPageSize ?? MAX_LIST_PAGE_SIZE;
    if (
      !Number.isInteger(this.listPageSize) ||
      this.listPageSize < 1 ||
      this.listPageSize > MAX_LIST_PAGE_SIZE
    ) {
      throw new RangeError(`listPageSize must be an integer from 1 to ${MAX_LIST_PAGE_SIZE}`);
    }
    this.now = options.now ?? (() => new Date());
    const endpoint =
      options.endpoint === undefined ? undefined : normalizeBaseUrl(options.endpoint, 'endpoint');
    this.client = new S3Client({
      region: options.region,
      endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      // Recent SDKs add CRC32 checksums to every request and check them on responses; MinIO releases and other
      // S3-compatible stores that predate this reject or mangle them. Only send them where S3 requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.publicBase = options.publicBaseUrl
      ? normalizeBaseUrl(options.publicBaseUrl, 'publicBaseUrl')
      : this.bucketUrl(options, endpoint);
  }

  async put(key: string, body: Buffer, options: PutObjectOptions): Promise<void> {
    const { contentType, cacheControl } = resolvePutOptions(key, options);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.keyPrefix + key,
        Body: body,
        ContentType: contentType,
        CacheControl: cacheControl,
        ContentLength: body.length,
      }),
    );
  }

  async get(key: string): Promise<StoredObject | null> {
    assertObjectKey(key);
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }),
      );
      if (!response.Body) throw new Error('storage: S3 answered GetObject without a body');
      const bytes = await response.Body.transformToByteArray();
      return {
        body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        contentType: response.ContentType ?? 'application/octet-stream',
        cacheControl: response.CacheControl ?? PRIVATE_CACHE_CONTROL,
      };
    } catch (error) {
      // Only a missing key means "no object": a missing bucket or denied access is a failure to report.
      if (isNoSuchKey(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    // S3 answers 204 for a missing key too.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }));
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertObjectKeyPrefix(prefix);
    let removed = 0;
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + prefix,
          MaxKeys: this.listPageSize,
          ContinuationToken: continuationToken,
        }),
      );
      const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
      if (keys.length > 0) {
        // The continuation token points past the last listed key, so deleting this page does not shift the next.
        const result = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }),
        );
        const failed = result.Errors ?? [];
        if (failed.length > 0) {
          const first = failed[0];
          throw new Error(
            `storage: S3 could not delete ${failed.length} of ${keys.length} objects (first: ${first?.Code ?? 'unknown'})`,
          );
        }
        removed += keys.length;
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return removed;
  }

  publicUrl(key: string): string {
    assertPublicKey(key);
    return `${this.publicBase}/${this.keyPrefix}${key}`;
  }

  async signedUrl(key: string, options: SignedUrlOptions): Promise<string> {
    assertObjectKey(key);
    assertSignedUrlLifetime(options.expiresInSeconds);
    return getSignedUrl(
      this.client,
      new GetObjectCommand({ Bucket: this.bucket, Key: this.keyPrefix + key }),
      {
        expiresIn: options.expiresInSeconds,
        signingDate: this.now(),
      },
    );
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }

  /** The bucket's own URL: path-style or virtual-hosted, as requests are addressed. */
  private bucketUrl(options: S3StorageOptions, endpoint: string | undefined): string {
    if (!endpoint) return `https://${options.bucket}.s3.${options.region}.amazonaws.com`;
    if (options.forcePathStyle) return `${endpoint}/${options.bucket}`;
    const url = new URL(endpoint);
    url.hostname = `${options.bucket}.${url.hostname}`;
    return url.toString().replace(/\/+$/, '');
  }
}

/**
 * {@link ObjectStorage} on S3 or an S3-compatible store (MinIO). Public objects are only public if the bucket
 * policy (or the CDN at `publicBaseUrl`) allows anonymous reads of `<keyPrefix>public/*`; nothing else should be
 * readable without a presigned URL (SigV4, at most 7 days).
 */
export function createS3Storage(options: S3StorageOptions): ObjectStorage {
  return new S3ObjectStorage(options);
}
