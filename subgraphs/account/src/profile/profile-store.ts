import DataLoader from 'dataloader';
import { NotFoundError } from '@gatehouse/errors';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import { DEFAULT_MAX_BATCH_SIZE, isUuid } from '@gatehouse/service';
import type { ObjectStorage } from '@gatehouse/storage';
import type { AvatarSize } from '../avatar/process-avatar';
import { avatarUrls } from './avatar-urls';
import { ProfileErrorCode, type ProfileFieldError } from './error-codes';
import type { ProfileRecord, ProfileViewRepository } from './profile-view.repository';
import { parseProfileUpdate } from './validation';

/** Default lifetime of a cached profile: 5 minutes. */
export const PROFILE_CACHE_TTL_SECONDS = 300;
/**
 * After a write, the cache entry is replaced by a short-lived tombstone instead of just deleted: a read that
 * fetched the old row from PostgreSQL before the write committed would otherwise put the old profile back in
 * the cache for a full TTL (the classic cache-aside race). Reads only fill the cache with SET NX, which the
 * tombstone blocks until it expires.
 */
export const PROFILE_CACHE_INVALIDATION_HOLD_SECONDS = 5;
/** A cache that does not answer within this falls back to PostgreSQL: a slow Redis must not slow every page. */
export const PROFILE_CACHE_TIMEOUT_MS = 250;

const TOMBSTONE = 'invalidated';

/** The KV key of a user's cached profile. Other services that change profile data delete it too. */
export function profileCacheKey(userId: string): string {
  return `profile:v1:${userId}`;
}

/** The avatar of a profile as URLs. */
export interface AvatarView {
  /**
   * `upload`: an image uploaded to Gatehouse (re-encoded WebP, exact thumbnail sizes). `external`: a URL copied
   * from elsewhere (an OAuth provider's picture), the same URL for every size.
   */
  source: 'upload' | 'external';
  original: string;
  sizes: Record<AvatarSize, string>;
}

/** A user's profile as the API shows it. */
export interface ProfileView {
  userId: string;
  displayName: string | null;
  bio: string | null;
  /** E.164. Personal data: only for the user themself and admins (the permission rules decide). */
  phone: string | null;
  /** Canonical BCP 47 tag. */
  locale: string | null;
  /** Canonical IANA time zone name. */
  timezone: string | null;
  avatar: AvatarView | null;
  /** When the account was created. */
  createdAt: Date;
  /** Last change of the profile (the account's creation when it was never edited). */
  updatedAt: Date;
}

/** Result of {@link ProfileStore.update}: the profile after the change, or why nothing was changed. */
export type UpdateProfileResult = { profile: ProfileView } | { fieldErrors: ProfileFieldError[] };

export interface ProfileStore {
  /**
   * Profiles of these users, in the same order (null for unknown, deleted or malformed ids): the batch function
   * of a per-request DataLoader. Cache hits come from the KV store; all misses are read with ONE SQL statement,
   * then cached. An unavailable cache only costs the SQL.
   */
  loadMany(userIds: readonly string[]): Promise<Array<ProfileView | null>>;
  /** A request-scoped DataLoader over {@link loadMany}: create one per request, never share it. */
  createLoader(): DataLoader<string, ProfileView | null>;
  /**
   * Validates, cleans (stored-XSS defence) and writes a profile change, then invalidates the cache entry.
   * Field errors are returned, not thrown.
   * @throws NotFoundError when the user does not exist.
   */
  update(userId: string, input: unknown): Promise<UpdateProfileResult>;
  /** Drops the cached profile (after a write that bypassed {@link update}: avatar, purge). Never throws. */
  invalidate(userId: string): Promise<void>;
}

export interface ProfileStoreOptions {
  /** Where profiles are read and written (PostgreSQL). */
  repository: ProfileViewRepository;
  /** The shared KV store (Redis in production). */
  kv: Pick<KeyValueStore, 'get' | 'set' | 'delete'>;
  /** Builds avatar URLs. */
  storage: Pick<ObjectStorage, 'publicUrl'>;
  /** Cache failures are logged here (as warnings) and otherwise ignored. */
  logger: Pick<Logger, 'warn'>;
  /** Default {@link PROFILE_CACHE_TTL_SECONDS}. */
  ttlSeconds?: number;
  /** Default {@link PROFILE_CACHE_INVALIDATION_HOLD_SECONDS}. */
  invalidationHoldSeconds?: number;
  /** Default {@link PROFILE_CACHE_TIMEOUT_MS}. */
  cacheTimeoutMs?: number;
}

/** The JSON stored in the cache: a {@link ProfileRecord} with ISO dates. */
interface CachedRecord extends Omit<ProfileRecord, 'createdAt' | 'updatedAt'> {
  createdAt: string;
  updatedAt: string;
}

const NULLABLE_TEXT_FIELDS = [
  'displayName',
  'bio',
  'phone',
  'locale',
  'timezone',
  'avatarKey',
  'avatarUrl',
] as const;

/** Parses a cache entry; anything unexpected (tombstone, older shape, corruption) counts as a miss. */
function parseCached(raw: string, userId: string): ProfileRecord | null {
  if (raw === TOMBSTONE) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const cached = value as Partial<Record<keyof CachedRecord, unknown>>;
  if (cached.userId !== userId) return null;
  for (const field of NULLABLE_TEXT_FIELDS) {
    if (cached[field] !== null && typeof cached[field] !== 'string') return null;
  }
  if (typeof cached.createdAt !== 'string' || typeof cached.updatedAt !== 'string') return null;
  const createdAt = new Date(cached.createdAt);
  const updatedAt = new Date(cached.updatedAt);
  if (Number.isNaN(createdAt.getTime()) || Number.isNaN(updatedAt.getTime())) return null;
  return { ...(cached as CachedRecord), createdAt, updatedAt };
}

function serialise(record: ProfileRecord): string {
  const cached: CachedRecord = {
    ...record,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
  return JSON.stringify(cached);
}

/** Only http(s) URLs are ever handed out as an external avatar (never `javascript:` or `data:`). */
function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/** NOT_FOUND with reason USER_NOT_FOUND. */
export function userNotFound(): NotFoundError {
  return new NotFoundError('User not found', { details: { reason: ProfileErrorCode.USER_NOT_FOUND } });
}

class CacheTimeoutError extends Error {
  constructor() {
    super('profile cache did not answer in time');
  }
}

/**
 * Profiles read through a KV cache (`profile:v1:<userId>`, 5 minutes) with writes that invalidate it.
 * See {@link ProfileStore}.
 */
export function createProfileStore(options: ProfileStoreOptions): ProfileStore {
  const {
    repository,
    kv,
    storage,
    logger,
    ttlSeconds = PROFILE_CACHE_TTL_SECONDS,
    invalidationHoldSeconds = PROFILE_CACHE_INVALIDATION_HOLD_SECONDS,
    cacheTimeoutMs = PROFILE_CACHE_TIMEOUT_MS,
  } = options;
  if (!(ttlSeconds > 0)) throw new RangeError('ttlSeconds must be positive');
  if (!(invalidationHoldSeconds > 0)) throw new RangeError('invalidationHoldSeconds must be positive');

  /** The cache call, or a rejection once it takes longer than `cacheTimeoutMs`. */
  function bounded<T>(operation: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new CacheTimeoutError()), cacheTimeoutMs);
    });
    return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
  }

  function toView(record: ProfileRecord): ProfileView {
    let avatar: AvatarView | null = null;
    if (record.avatarKey !== null) {
      avatar = { source: 'upload', ...avatarUrls(storage, record.avatarKey) };
    } else if (record.avatarUrl !== null && isWebUrl(record.avatarUrl)) {
      const url = record.avatarUrl;
      avatar = { source: 'external', original: url, sizes: { 50: url, 150: url, 300: url } };
    }
    return {
      userId: record.userId,
      displayName: record.displayName,
      bio: record.bio,
      phone: record.phone,
      locale: record.locale,
      timezone: record.timezone,
      avatar,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    };
  }

  async function readCache(userIds: string[]): Promise<Map<string, ProfileRecord>> {
    const hits = new Map<string, ProfileRecord>();
    let failure: unknown;
    await Promise.all(
      userIds.map(async (userId) => {
        try {
          const raw = await bounded(kv.get(profileCacheKey(userId)));
          const record = raw === null ? null : parseCached(raw, userId);
          if (record) hits.set(userId, record);
        } catch (error) {
          failure ??= error;
        }
      }),
    );
    if (failure !== undefined) {
      logger.warn({ err: failure }, 'profile cache unavailable; reading profiles from PostgreSQL');
    }
    return hits;
  }

  async function writeCache(records: ProfileRecord[]): Promise<void> {
    let failure: unknown;
    await Promise.all(
      records.map(async (record) => {
        try {
          // NX: a tombstone left by a concurrent write wins over this possibly older read.
          await bounded(
            kv.set(profileCacheKey(record.userId), serialise(record), { ttlSeconds, onlyIfAbsent: true }),
          );
        } catch (error) {
          failure ??= error;
        }
      }),
    );
    if (failure !== undefined) logger.warn({ err: failure }, 'profiles not cached');
  }

  async function loadMany(userIds: readonly string[]): Promise<Array<ProfileView | null>> {
    const wanted = [...new Set(userIds.filter(isUuid))];
    const records = await readCache(wanted);
    const misses = wanted.filter((userId) => !records.has(userId));
    if (misses.length > 0) {
      const loaded = await repository.findByUserIds(misses);
      for (const record of loaded) records.set(record.userId, record);
      // Unknown users are not cached: identity may create them any moment without telling this store.
      await writeCache(loaded);
    }
    return userIds.map((userId) => {
      const record = records.get(userId);
      return record ? toView(record) : null;
    });
  }

  async function invalidate(userId: string): Promise<void> {
    try {
      await bounded(kv.set(profileCacheKey(userId), TOMBSTONE, { ttlSeconds: invalidationHoldSeconds }));
    } catch (setError) {
      // Second chance: without the tombstone the entry must at least go. If that fails too, the old profile is
      // served until the entry expires (at most ttlSeconds): logged, as the write itself has succeeded.
      try {
        await bounded(kv.delete(profileCacheKey(userId)));
        logger.warn({ err: setError, userId }, 'profile cache tombstone not written; entry deleted instead');
      } catch (deleteError) {
        logger.warn(
          { err: deleteError, userId, ttlSeconds },
          'profile cache not invalidated; the old profile may be served until the entry expires',
        );
      }
    }
  }

  async function update(userId: string, input: unknown): Promise<UpdateProfileResult> {
    const parsed = parseProfileUpdate(input);
    if (!parsed.ok) return { fieldErrors: parsed.errors };
    if (!(await repository.upsert(userId, parsed.value))) throw userNotFound();
    await invalidate(userId);
    // Read back from PostgreSQL (the cache is held invalid for a moment anyway): the caller sees what was stored.
    const [record] = await repository.findByUserIds([userId]);
    if (!record) throw userNotFound();
    return { profile: toView(record) };
  }

  return {
    loadMany,
    createLoader: () =>
      new DataLoader<string, ProfileView | null>((userIds) => loadMany(userIds), {
        maxBatchSize: DEFAULT_MAX_BATCH_SIZE,
      }),
    update,
    invalidate,
  };
}
