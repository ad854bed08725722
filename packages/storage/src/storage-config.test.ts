import path from 'node:path';
import { ConfigError, loadConfig, type Environment } from '@gatehouse/config';
import { startTestS3Server } from '@gatehouse/testing';
import {
  DEFAULT_STORAGE_PUBLIC_URL,
  INSECURE_DEV_STORAGE_SIGNING_SECRET,
  createObjectStorage,
  isFilesystemStorage,
  storageConcern,
} from './storage-config';

const load = (env: Environment) => loadConfig({ storage: storageConcern }, env).storage;

function issuesOf(env: Environment): ReadonlyArray<{ variable: string; message: string }> {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const SECRET = 'a-production-signing-secret-of-32+chars';

describe('storageConcern', () => {
  it('defaults to the filesystem', () => {
    expect(load({ STORAGE_SIGNING_SECRET: SECRET })).toEqual({
      STORAGE_DRIVER: 'filesystem',
      STORAGE_DIR: '.data/storage',
      STORAGE_PUBLIC_URL: DEFAULT_STORAGE_PUBLIC_URL,
      STORAGE_SIGNING_SECRET: SECRET,
    });
  });

  // Issue #14: outside production the secret fell back to one published in the source.
  it('requires a signing secret for the filesystem in every environment, and refuses the published one', () => {
    for (const NODE_ENV of [undefined, 'development', 'test', 'production']) {
      const env = NODE_ENV === undefined ? {} : { NODE_ENV };
      expect(issuesOf(env)).toEqual([
        { variable: 'STORAGE_SIGNING_SECRET', message: 'is required when STORAGE_DRIVER=filesystem' },
      ]);
      expect(issuesOf({ ...env, STORAGE_SIGNING_SECRET: INSECURE_DEV_STORAGE_SIGNING_SECRET })).toEqual([
        {
          variable: 'STORAGE_SIGNING_SECRET',
          message: 'must not be the published development secret (generate your own)',
        },
      ]);
    }
  });

  it('requires a signing secret of 32+ characters for the filesystem in production', () => {
    const short = issuesOf({ NODE_ENV: 'production', STORAGE_SIGNING_SECRET: 'hunter2' });
    expect(short).toEqual([
      { variable: 'STORAGE_SIGNING_SECRET', message: 'must be at least 32 characters' },
    ]);
    expect(JSON.stringify(short)).not.toContain('hunter2');
    expect(
      load({
        NODE_ENV: 'production',
        STORAGE_SIGNING_SECRET: SECRET,
        STORAGE_DIR: '/var/lib/gatehouse',
        STORAGE_PUBLIC_URL: 'https://id.example.com/files/',
      }),
    ).toEqual({
      STORAGE_DRIVER: 'filesystem',
      STORAGE_DIR: '/var/lib/gatehouse',
      STORAGE_PUBLIC_URL: 'https://id.example.com/files',
      STORAGE_SIGNING_SECRET: SECRET,
    });
  });

  it('reads the S3 settings, without requiring a signing secret', () => {
    expect(
      load({
        NODE_ENV: 'production',
        STORAGE_DRIVER: 's3',
        S3_BUCKET: 'gatehouse',
        S3_ENDPOINT: 'http://minio:9000',
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: 'minio',
        S3_SECRET_ACCESS_KEY: 'minio-secret',
      }),
    ).toEqual({
      STORAGE_DRIVER: 's3',
      S3_BUCKET: 'gatehouse',
      S3_REGION: 'us-east-1',
      S3_ENDPOINT: 'http://minio:9000',
      S3_FORCE_PATH_STYLE: true,
      S3_CREDENTIALS: { accessKeyId: 'minio', secretAccessKey: 'minio-secret' },
      STORAGE_PUBLIC_URL: undefined,
    });
    expect(load({ STORAGE_DRIVER: 's3', S3_BUCKET: 'b', S3_REGION: 'eu-central-1' })).toMatchObject({
      S3_REGION: 'eu-central-1',
      S3_FORCE_PATH_STYLE: false,
      S3_CREDENTIALS: undefined,
    });
  });

  it('lists every S3 problem at once, never echoing a secret', () => {
    const issues = issuesOf({
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: 'minio:9000',
      S3_FORCE_PATH_STYLE: 'yes',
      S3_SECRET_ACCESS_KEY: 'very-secret-value',
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        { variable: 'S3_BUCKET', message: 'is required when STORAGE_DRIVER=s3' },
        { variable: 'S3_ENDPOINT', message: 'must be an http:// or https:// URL without query or fragment' },
        { variable: 'S3_FORCE_PATH_STYLE', message: 'must be true or false' },
      ]),
    );
    expect(JSON.stringify(issues)).not.toContain('very-secret-value');
  });

  it('requires both S3 keys or neither', () => {
    const issues = issuesOf({ STORAGE_DRIVER: 's3', S3_BUCKET: 'b', S3_SECRET_ACCESS_KEY: 'x' });
    expect(issues.map((issue) => issue.variable)).toEqual(['S3_ACCESS_KEY_ID']);
  });

  it('rejects an unknown driver', () => {
    expect(issuesOf({ STORAGE_DRIVER: 'gcs' })).toEqual([
      { variable: 'STORAGE_DRIVER', message: 'must be one of filesystem, s3' },
    ]);
  });
});

describe('createObjectStorage', () => {
  it('builds the filesystem storage, resolving a relative directory', () => {
    const storage = createObjectStorage(load({ STORAGE_SIGNING_SECRET: SECRET }));
    if (!isFilesystemStorage(storage)) throw new Error('expected the filesystem storage');
    expect(storage.rootDir).toBe(path.resolve('.data/storage'));
    expect(storage.publicUrl('public/a.webp')).toBe(`${DEFAULT_STORAGE_PUBLIC_URL}/public/a.webp`);
  });

  it('builds an S3 storage that reaches the configured server', async () => {
    const s3 = await startTestS3Server({ buckets: ['configured'] });
    const storage = createObjectStorage(
      load({
        STORAGE_DRIVER: 's3',
        S3_BUCKET: 'configured',
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      }),
    );
    try {
      expect(storage.driver).toBe('s3');
      expect(isFilesystemStorage(storage)).toBe(false);
      await storage.ping();
      await storage.put('public/a.txt', Buffer.from('via config'), { contentType: 'text/plain' });
      expect(storage.publicUrl('public/a.txt')).toBe(`${s3.endpoint}/configured/public/a.txt`);
      expect(await (await fetch(storage.publicUrl('public/a.txt'))).text()).toBe('via config');
    } finally {
      await storage.close();
      await s3.close();
    }
  });
});
