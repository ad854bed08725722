import type { PrismaClient } from '@gatehouse/db';
import { isPrismaKnownRequestError } from '@gatehouse/errors';
import { isUuid } from '@gatehouse/service';
import type { ProfileUpdate } from './validation';

/**
 * What the profile store reads and caches for one user: the stored columns, not URLs (those are derived on
 * every read, so a change of the storage's public base URL never leaves stale URLs in the cache).
 */
export interface ProfileRecord {
  userId: string;
  displayName: string | null;
  bio: string | null;
  phone: string | null;
  locale: string | null;
  timezone: string | null;
  /** Object-storage prefix of the current uploaded avatar, or null. */
  avatarKey: string | null;
  /** External avatar URL (e.g. copied from an OAuth provider) used while no avatar was uploaded. */
  avatarUrl: string | null;
  /** When the account was created (users.created_at). */
  createdAt: Date;
  /** Last change of the profile (user_profiles.updated_at); the account's creation when it has no profile yet. */
  updatedAt: Date;
}

/** Result of swapping the avatar key: `found` false when the user does not exist (or is deleted). */
export interface AvatarKeySwap {
  found: boolean;
  /** The key the profile held before this change, or null. */
  previous: string | null;
}

/** The SQL of the profile store and the avatar service: the only place in this module that touches Prisma. */
export interface ProfileViewRepository {
  /**
   * Profile records of these users in ONE statement (users left-joined with user_profiles), in no particular
   * order. Unknown, deleted and malformed ids are left out; users without a profile row come back with nulls.
   */
  findByUserIds(userIds: readonly string[]): Promise<ProfileRecord[]>;
  /**
   * Writes the given fields, creating the profile row when there is none (one INSERT ... ON CONFLICT).
   * @returns false when the user does not exist.
   */
  upsert(userId: string, update: ProfileUpdate): Promise<boolean>;
  /**
   * Sets `avatar_key` and returns the one it replaces, atomically: the old row is locked while it is read, so two
   * concurrent uploads each get the key the other one replaced and no upload's files are ever orphaned. With a
   * non-null key, a missing profile row is created first.
   */
  swapAvatarKey(userId: string, avatarKey: string | null): Promise<AvatarKeySwap>;
}

interface ProfileRow {
  userId: string;
  displayName: string | null;
  bio: string | null;
  phone: string | null;
  locale: string | null;
  timezone: string | null;
  avatarKey: string | null;
  avatarUrl: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Prisma's "foreign key constraint failed": the user row does not exist. */
const FOREIGN_KEY_VIOLATION = 'P2003';

export function createProfileViewRepository(prisma: PrismaClient): ProfileViewRepository {
  return {
    async findByUserIds(userIds) {
      const valid = [...new Set(userIds.filter(isUuid))];
      if (valid.length === 0) return [];
      // Deleted accounts keep their row until the purge job anonymises it; their profile is not shown meanwhile.
      return prisma.$queryRaw<ProfileRow[]>`
        SELECT u.id AS "userId",
               p.display_name AS "displayName",
               p.bio,
               p.phone,
               p.locale,
               p.timezone,
               p.avatar_key AS "avatarKey",
               p.avatar_url AS "avatarUrl",
               u.created_at AS "createdAt",
               COALESCE(p.updated_at, u.created_at) AS "updatedAt"
        FROM "users" u
        LEFT JOIN "user_profiles" p ON p.user_id = u.id
        WHERE u.id = ANY(${valid}::uuid[]) AND u.status <> 'DELETED'`;
    },

    async upsert(userId, update) {
      if (!isUuid(userId)) return false;
      try {
        await prisma.userProfile.upsert({
          where: { userId },
          create: { userId, ...update },
          update,
        });
        return true;
      } catch (error) {
        if (isPrismaKnownRequestError(error) && error.code === FOREIGN_KEY_VIOLATION) return false;
        throw error;
      }
    },

    async swapAvatarKey(userId, avatarKey) {
      if (!isUuid(userId)) return { found: false, previous: null };
      if (avatarKey !== null) {
        await prisma.$executeRaw`
          INSERT INTO "user_profiles" (user_id)
          SELECT id FROM "users" WHERE id = ${userId}::uuid AND status <> 'DELETED'
          ON CONFLICT (user_id) DO NOTHING`;
      }
      // FOR UPDATE in the sub-select: a concurrent swap waits, then reads the key this one wrote.
      const rows = await prisma.$queryRaw<Array<{ previous: string | null }>>`
        UPDATE "user_profiles" p
        SET avatar_key = ${avatarKey},
            updated_at = CASE WHEN old.avatar_key IS DISTINCT FROM ${avatarKey} THEN now() ELSE p.updated_at END
        FROM (
          SELECT id, avatar_key FROM "user_profiles" WHERE user_id = ${userId}::uuid FOR UPDATE
        ) old
        WHERE p.id = old.id
        RETURNING old.avatar_key AS previous`;
      const row = rows[0];
      return row ? { found: true, previous: row.previous } : { found: false, previous: null };
    },
  };
}
