import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { AppError } from '@gatehouse/errors';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger, type Logger } from '@gatehouse/logger';
import {
  PUBLIC_CACHE_CONTROL,
  createFilesystemStorage,
  createS3Storage,
  type ObjectStorage,
} from '@gatehouse/storage';
import {
  createTestDatabase,
  startTestS3Server,
  waitFor,
  type TestDatabase,
  type TestS3Server,
} from '@gatehouse/testing';
import { createProfileStore } from '../profile/profile-store';
import { createProfileViewRepository } from '../profile/profile-view.repository';
import { ProfileErrorCode } from '../profile/error-codes';
import { createAvatarService, type AvatarServiceOptions } from './avatar.service';
import { AvatarErrorCode } from './error-codes';

const silent = createLogger({ name: 'avatar-test', level: 'silent' });
const RENDITIONS = ['original', '50', '150', '300'] as const;

let db: TestDatabase;
let s3: TestS3Server;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [db, s3] = await Promise.all([createTestDatabase(), startTestS3Server({ buckets: ['avatars-test'] })]);
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await Promise.all([db?.close(), s3?.close()]);
});

type StorageKind = { name: string; open(): Promise<ObjectStorage> };
const storages: StorageKind[] = [
  {
    name: 'filesystem storage',
    open: async () => {
      const rootDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-avatar-'));
      cleanups.push(() => rm(rootDir, { recursive: true, force: true }));
      return createFilesystemStorage({
        rootDir,
        publicBaseUrl: 'http://files.test/files',
        signingSecret: 'avatar-service-test-signing-secret-0123456789',
      });
    },
  },
  {
    name: 'S3 storage',
    open: async () => {
      const storage = createS3Storage({
        bucket: 'avatars-test',
        region: s3.region,
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: s3.credentials,
        keyPrefix: `run-${randomUUID()}/`,
      });
      cleanups.push(() => storage.close());
      return storage;
    },
  },
];

const image = {
  jpeg: () =>
    sharp({ create: { width: 320, height: 240, channels: 3, background: '#3366cc' } })
      .jpeg()
      .toBuffer(),
  png: () =>
    sharp({
      create: { width: 200, height: 200, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } },
    })
      .png()
      .toBuffer(),
};

async function newUser(): Promise<string> {
  return (await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test`, status: 'ACTIVE' } }))
    .id;
}

const avatarKeyOf = async (userId: string) =>
  (await db.prisma.userProfile.findUnique({ where: { userId } }))?.avatarKey ?? null;

async function failureOf(promise: Promise<unknown>): Promise<{ code: string; reason: unknown }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (caught: unknown) => caught,
  );
  if (!(error instanceof AppError)) throw error;
  return { code: error.code, reason: (error.details as { reason?: unknown } | undefined)?.reason };
}

describe.each(storages)('avatar service with the $name', ({ open }) => {
  let storage: ObjectStorage;
  /** Every key the service put, in order. */
  let putKeys: string[];
  /** Makes the put of a matching key fail. */
  let failPut: ((key: string) => boolean) | undefined;

  beforeAll(async () => {
    storage = await open();
  });

  function harness(options: Partial<AvatarServiceOptions> = {}) {
    putKeys = [];
    failPut = undefined;
    const recordingStorage: AvatarServiceOptions['storage'] = {
      put: async (key, body, putOptions) => {
        putKeys.push(key);
        if (failPut?.(key)) throw new Error('storage unavailable');
        return storage.put(key, body, putOptions);
      },
      deletePrefix: (prefix) => storage.deletePrefix(prefix),
      publicUrl: (key) => storage.publicUrl(key),
    };
    const profiles = createProfileStore({
      repository: createProfileViewRepository(db.prisma),
      kv: new MemoryKeyValueStore(),
      storage,
      logger: silent,
    });
    const avatars = createAvatarService({
      repository: createProfileViewRepository(db.prisma),
      storage: recordingStorage,
      profiles,
      logger: silent,
      ...options,
    });
    return { avatars, profiles };
  }

  const objectsOf = (avatarKey: string) =>
    Promise.all(RENDITIONS.map((rendition) => storage.get(`${avatarKey}/${rendition}.webp`)));

  it('stores a re-encoded original and three thumbnails, and points the profile at them', async () => {
    const { avatars, profiles } = harness();
    const userId = await newUser();
    expect((await profiles.loadMany([userId]))[0]?.avatar).toBeNull(); // now cached without an avatar

    const urls = await avatars.upload(userId, await image.jpeg());

    const avatarKey = await avatarKeyOf(userId);
    expect(avatarKey).toMatch(new RegExp(`^public/avatars/${userId}/[0-9a-f-]{36}$`));
    expect(urls).toEqual({
      original: storage.publicUrl(`${avatarKey}/original.webp`),
      sizes: {
        50: storage.publicUrl(`${avatarKey}/50.webp`),
        150: storage.publicUrl(`${avatarKey}/150.webp`),
        300: storage.publicUrl(`${avatarKey}/300.webp`),
      },
    });
    const objects = await objectsOf(avatarKey!);
    for (const [index, object] of objects.entries()) {
      expect({ rendition: RENDITIONS[index], contentType: object?.contentType }).toEqual({
        rendition: RENDITIONS[index],
        contentType: 'image/webp',
      });
      expect(object?.cacheControl).toBe(PUBLIC_CACHE_CONTROL);
      expect((await sharp(object!.body).metadata()).format).toBe('webp');
    }
    expect(await sharp(objects[0]!.body).metadata()).toMatchObject({ width: 320, height: 240 });
    expect(await sharp(objects[2]!.body).metadata()).toMatchObject({ width: 150, height: 150 });
    // The cached profile was invalidated.
    expect((await profiles.loadMany([userId]))[0]?.avatar).toEqual({ source: 'upload', ...urls });
  });

  it('replaces the previous upload: new URLs every time, old files removed', async () => {
    const { avatars } = harness();
    const userId = await newUser();
    const bytes = await image.png();
    const first = await avatars.upload(userId, bytes);
    const firstKey = (await avatarKeyOf(userId))!;
    const second = await avatars.upload(userId, bytes); // the same image again
    const secondKey = (await avatarKeyOf(userId))!;

    expect(secondKey).not.toBe(firstKey);
    const allUrls = [first, second].flatMap((urls) => [urls.original, ...Object.values(urls.sizes)]);
    expect(new Set(allUrls).size).toBe(8);
    expect(await objectsOf(firstKey)).toEqual([null, null, null, null]);
    expect((await objectsOf(secondKey)).every((object) => object !== null)).toBe(true);
  });

  it('keeps exactly one set of files when two uploads switch the avatar at the same moment', async () => {
    const { avatars } = harness();
    const userId = await newUser();
    await avatars.upload(userId, await image.jpeg());
    const first = (await avatarKeyOf(userId))!;
    putKeys.length = 0;
    const [a, b] = await Promise.all([image.jpeg(), image.png()]);

    // Hold the profile row so that both uploads reach the switch before either can make it.
    const blocker = await db.pool.connect();
    let uploads: Promise<unknown>;
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM "user_profiles" WHERE user_id = $1 FOR UPDATE', [userId]);
      uploads = Promise.all([avatars.upload(userId, a), avatars.upload(userId, b)]);
      await waitFor(
        async () => {
          const { rows } = await db.pool.query<{ waiting: number }>(
            `SELECT count(*)::int AS waiting FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%avatar_key%'`,
          );
          return rows[0]!.waiting >= 2;
        },
        { timeoutMs: 10_000, what: 'both uploads waiting for the profile row' },
      );
      await blocker.query('COMMIT');
    } finally {
      blocker.release();
    }
    await uploads;

    const winner = (await avatarKeyOf(userId))!;
    const racing = [...new Set(putKeys.map((key) => key.slice(0, key.lastIndexOf('/'))))];
    expect(racing).toHaveLength(2);
    expect(racing).toContain(winner);
    const loser = racing.find((key) => key !== winner)!;
    expect(await objectsOf(first)).toEqual([null, null, null, null]);
    expect(await objectsOf(loser)).toEqual([null, null, null, null]);
    expect((await objectsOf(winner)).every((object) => object !== null)).toBe(true);
  });

  it('refuses a fake image before storing anything', async () => {
    const { avatars } = harness();
    const userId = await newUser();
    await avatars.upload(userId, await image.jpeg());
    const before = await avatarKeyOf(userId);
    putKeys.length = 0;
    const html = Buffer.from('<!DOCTYPE html><script>alert(1)</script>');
    expect(await failureOf(avatars.upload(userId, html))).toEqual({
      code: 'BAD_USER_INPUT',
      reason: AvatarErrorCode.AVATAR_TYPE_UNSUPPORTED,
    });
    expect(putKeys).toEqual([]);
    expect(await avatarKeyOf(userId)).toBe(before);
  });

  it('removes the new files and keeps the old avatar when storing fails half-way', async () => {
    const { avatars } = harness();
    const userId = await newUser();
    await avatars.upload(userId, await image.jpeg());
    const before = (await avatarKeyOf(userId))!;
    putKeys.length = 0;
    failPut = (key) => key.endsWith('/150.webp');

    await expect(avatars.upload(userId, await image.png())).rejects.toThrow('storage unavailable');
    expect(putKeys).toHaveLength(4);
    const failedKey = putKeys[0]!.slice(0, putKeys[0]!.lastIndexOf('/'));
    expect(await objectsOf(failedKey)).toEqual([null, null, null, null]);
    expect(await avatarKeyOf(userId)).toBe(before);
    expect((await objectsOf(before)).every((object) => object !== null)).toBe(true);
  });

  it('removes the new files when the user does not exist', async () => {
    const { avatars } = harness();
    const ghost = randomUUID();
    expect(await failureOf(avatars.upload(ghost, await image.jpeg()))).toEqual({
      code: 'NOT_FOUND',
      reason: ProfileErrorCode.USER_NOT_FOUND,
    });
    expect(putKeys).toHaveLength(4);
    const orphan = putKeys[0]!.slice(0, putKeys[0]!.lastIndexOf('/'));
    expect(await objectsOf(orphan)).toEqual([null, null, null, null]);
    expect(await db.prisma.userProfile.count({ where: { userId: ghost } })).toBe(0);
  });

  it('removes the avatar and its files; removing again changes nothing', async () => {
    const { avatars, profiles } = harness();
    const userId = await newUser();
    await avatars.upload(userId, await image.jpeg());
    const key = (await avatarKeyOf(userId))!;
    expect((await profiles.loadMany([userId]))[0]?.avatar).not.toBeNull();

    expect(await avatars.remove(userId)).toEqual({ removed: true });
    expect(await avatarKeyOf(userId)).toBeNull();
    expect(await objectsOf(key)).toEqual([null, null, null, null]);
    expect((await profiles.loadMany([userId]))[0]?.avatar).toBeNull();
    expect(await avatars.remove(userId)).toEqual({ removed: false });
    expect(await avatars.remove(await newUser())).toEqual({ removed: false });
  });

  it('never deletes outside the user folder, whatever the stored key says', async () => {
    const errors: unknown[] = [];
    const logger = {
      warn: () => undefined,
      error: (details: unknown) => void errors.push(details),
    } as unknown as Pick<Logger, 'warn' | 'error'>; // pino's overloaded LogFn type; only (details, message) is used
    const { avatars } = harness({ logger });
    const victim = await newUser();
    await avatars.upload(victim, await image.jpeg());
    const victimKey = (await avatarKeyOf(victim))!;
    const attacker = await newUser();
    await db.prisma.userProfile.create({ data: { userId: attacker, avatarKey: victimKey } });

    await avatars.upload(attacker, await image.png());
    expect((await objectsOf(victimKey)).every((object) => object !== null)).toBe(true);
    expect(errors).toEqual([expect.objectContaining({ userId: attacker, avatarKey: victimKey })]);
  });
});
