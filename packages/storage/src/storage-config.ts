import { z } from 'zod';
import { createFilesystemStorage, type FilesystemStorage } from './filesystem-storage';
import type { ObjectStorage } from './object-storage';
import { createS3Storage } from './s3-storage';
import { MIN_SIGNING_SECRET_LENGTH } from './signed-url';

/**
 * The STORAGE_SIGNING_SECRET development used to fall back to. It is public (it is in this file), so anyone could
 * forge signed URLs with it: config load refuses it in every environment (issue #14). Outside production `npm start`
 * generates a secret per install under `.data/keys`.
 */
export const INSECURE_DEV_STORAGE_SIGNING_SECRET = 'insecure-dev-storage-signing-secret-do-not-use';

/** Where the gateway serves the filesystem storage by default (the file routes live under `/files/`). */
export const DEFAULT_STORAGE_PUBLIC_URL = 'http://127.0.0.1:4000/files';

export const STORAGE_DRIVERS = ['filesystem', 's3'] as const;

// Messages state the rule and never repeat the value (it may be secret), like @gatehouse/config's schemas.
const httpUrl = z
  .string()
  .trim()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash;
      } catch {
        return false;
      }
    },
    { error: 'must be an http:// or https:// URL without query or fragment' },
  )
  .transform((value) => value.replace(/\/+$/, ''));

const boolean = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1');

const nonEmpty = z.string().trim().min(1);

/**
 * Object storage (avatars, data exports), a concern for `loadConfig` of @gatehouse/config.
 *
 * - `STORAGE_DRIVER`: `filesystem` (default; one host) or `s3` (AWS S3, MinIO, other S3-compatible stores).
 * - filesystem: `STORAGE_DIR` (default `.data/storage`), `STORAGE_PUBLIC_URL` (default
 *   {@link DEFAULT_STORAGE_PUBLIC_URL}: where the file routes are reachable), `STORAGE_SIGNING_SECRET` (32+
 *   characters; required in every environment, `npm start` generates one outside production).
 * - s3: `S3_BUCKET` (required), `S3_REGION` (default us-east-1), `S3_ENDPOINT` (MinIO etc.), `S3_FORCE_PATH_STYLE`
 *   (default false; MinIO needs true), `S3_ACCESS_KEY_ID` + `S3_SECRET_ACCESS_KEY` (both or neither: without
 *   them the AWS default credential chain applies), `STORAGE_PUBLIC_URL` (optional CDN base of public objects).
 */
export const storageConcern = z
  .object({
    NODE_ENV: z.string().optional(),
    STORAGE_DRIVER: z
      .enum(STORAGE_DRIVERS, { error: `must be one of ${STORAGE_DRIVERS.join(', ')}` })
      .default('filesystem'),
    STORAGE_DIR: nonEmpty.default('.data/storage'),
    STORAGE_PUBLIC_URL: httpUrl.optional(),
    STORAGE_SIGNING_SECRET: z
      .string()
      .min(MIN_SIGNING_SECRET_LENGTH, { error: `must be at least ${MIN_SIGNING_SECRET_LENGTH} characters` })
      .optional(),
    S3_BUCKET: nonEmpty.optional(),
    S3_REGION: nonEmpty.default('us-east-1'),
    S3_ENDPOINT: httpUrl.optional(),
    S3_FORCE_PATH_STYLE: boolean.default(false),
    S3_ACCESS_KEY_ID: nonEmpty.optional(),
    S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  })
  .superRefine(
    (env, ctx) => {
      if (env.STORAGE_DRIVER === 'filesystem') {
        // No secret in the source is ever accepted, in any environment (`npm start` generates one in development).
        if (env.STORAGE_SIGNING_SECRET === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['STORAGE_SIGNING_SECRET'],
            message: 'is required when STORAGE_DRIVER=filesystem',
          });
        } else if (env.STORAGE_SIGNING_SECRET === INSECURE_DEV_STORAGE_SIGNING_SECRET) {
          ctx.addIssue({
            code: 'custom',
            path: ['STORAGE_SIGNING_SECRET'],
            message: 'must not be the published development secret (generate your own)',
          });
        }
        return;
      }
      if (env.STORAGE_DRIVER !== 's3') return;
      if (env.S3_BUCKET === undefined) {
        ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'is required when STORAGE_DRIVER=s3' });
      }
      if ((env.S3_ACCESS_KEY_ID === undefined) !== (env.S3_SECRET_ACCESS_KEY === undefined)) {
        const missing = env.S3_ACCESS_KEY_ID === undefined ? 'S3_ACCESS_KEY_ID' : 'S3_SECRET_ACCESS_KEY';
        ctx.addIssue({
          code: 'custom',
          path: [missing],
          message:
            'is required when the other S3 key variable is set (set both, or neither for the AWS default chain)',
        });
      }
    },
    // Also run when a variable is malformed, so one ConfigError lists every problem. The checks above only
    // compare values with literals and undefined, so a malformed value cannot mislead them.
    { when: () => true },
  )
  .transform((env): StorageConfig => {
    if (env.STORAGE_DRIVER === 'filesystem') {
      return {
        STORAGE_DRIVER: 'filesystem',
        STORAGE_DIR: env.STORAGE_DIR,
        STORAGE_PUBLIC_URL: env.STORAGE_PUBLIC_URL ?? DEFAULT_STORAGE_PUBLIC_URL,
        // superRefine reported a missing secret; transform only runs on valid input.
        STORAGE_SIGNING_SECRET: env.STORAGE_SIGNING_SECRET ?? '',
      };
    }
    return {
      STORAGE_DRIVER: 's3',
      // superRefine reported a missing bucket; transform only runs on valid input.
      S3_BUCKET: env.S3_BUCKET ?? '',
      S3_REGION: env.S3_REGION,
      S3_ENDPOINT: env.S3_ENDPOINT,
      S3_FORCE_PATH_STYLE: env.S3_FORCE_PATH_STYLE,
      S3_CREDENTIALS:
        env.S3_ACCESS_KEY_ID !== undefined && env.S3_SECRET_ACCESS_KEY !== undefined
          ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY }
          : undefined,
      STORAGE_PUBLIC_URL: env.STORAGE_PUBLIC_URL,
    };
  });

/** The parsed {@link storageConcern}: one shape per driver. */
export type StorageConfig =
  | {
      STORAGE_DRIVER: 'filesystem';
      STORAGE_DIR: string;
      STORAGE_PUBLIC_URL: string;
      STORAGE_SIGNING_SECRET: string;
    }
  | {
      STORAGE_DRIVER: 's3';
      S3_BUCKET: string;
      S3_REGION: string;
      S3_ENDPOINT: string | undefined;
      S3_FORCE_PATH_STYLE: boolean;
      S3_CREDENTIALS: { accessKeyId: string; secretAccessKey: string } | undefined;
      /** CDN base for public objects; unset: the bucket URL. */
      STORAGE_PUBLIC_URL: string | undefined;
    };

export interface CreateObjectStorageOptions {
  /** Clock for signed URLs (tests). */
  now?: () => Date;
}

/** The storage the configuration selects. With the filesystem driver, also serve it with `createFileRoutes`. */
export function createObjectStorage(
  config: StorageConfig & { STORAGE_DRIVER: 'filesystem' },
  options?: CreateObjectStorageOptions,
): FilesystemStorage;
export function createObjectStorage(
  config: StorageConfig,
  options?: CreateObjectStorageOptions,
): ObjectStorage;
export function createObjectStorage(
  config: StorageConfig,
  options: CreateObjectStorageOptions = {},
): ObjectStorage {
  if (config.STORAGE_DRIVER === 'filesystem') {
    return createFilesystemStorage({
      rootDir: config.STORAGE_DIR,
      publicBaseUrl: config.STORAGE_PUBLIC_URL,
      signingSecret: config.STORAGE_SIGNING_SECRET,
      now: options.now,
    });
  }
  return createS3Storage({
    bucket: config.S3_BUCKET,
    region: config.S3_REGION,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials: config.S3_CREDENTIALS,
    publicBaseUrl: config.STORAGE_PUBLIC_URL,
    now: options.now,
  });
}

/** True for the storage {@link createObjectStorage} makes for the filesystem driver (it needs file routes). */
export function isFilesystemStorage(storage: ObjectStorage): storage is FilesystemStorage {
  return storage.driver === 'filesystem';
}
