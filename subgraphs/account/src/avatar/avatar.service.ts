import { randomUUID } from 'node:crypto';
import type { Logger } from '@gatehouse/logger';
import { isUuid } from '@gatehouse/service';
import { PUBLIC_CACHE_CONTROL, type ObjectStorage } from '@gatehouse/storage';
import {
  avatarObjectKey,
  avatarUploadKey,
  avatarUrls,
  avatarUserPrefix,
  type AvatarUrls,
} from '../profile/avatar-urls';
import { userNotFound, type ProfileStore } from '../profile/profile-store';
import type { AvatarKeySwap, ProfileViewRepository } from '../profile/profile-view.repository';
import { AVATAR_CONTENT_TYPE, AVATAR_SIZES, processAvatar, type AvatarSize } from './process-avatar';

export interface AvatarServiceOptions {
  /** The profile row's avatar key (the profile store's repository). */
  repository: Pick<ProfileViewRepository, 'swapAvatarKey'>;
  storage: Pick<ObjectStorage, 'put' | 'deletePrefix' | 'publicUrl'>;
  /** Told after every change, so the cached profile shows the new avatar. */
  profiles: Pick<ProfileStore, 'invalidate'>;
  /** Leftover files that could not be removed are logged here. */
  logger: Pick<Logger, 'warn' | 'error'>;
}

export interface AvatarService {
  /**
   * Validates and re-encodes an uploaded image (see `processAvatar`), stores the original and the 50/150/300 px
   * thumbnails under a fresh upload id (`public/avatars/<userId>/<uploadId>/`, so every upload has new URLs that
   * caches may keep forever), makes it the user's avatar, then removes the previous upload's files.
   *
   * Nothing is left half-written: when storing or recording fails, the new files are removed again and the
   * previous avatar stays. Failing to remove the previous files after the switch is only logged (the new avatar
   * is already live; the purge job removes the whole folder when the account goes).
   *
   * @throws AvatarError (BAD_USER_INPUT with reason AVATAR_TOO_LARGE, AVATAR_TYPE_UNSUPPORTED,
   *   AVATAR_TOO_MANY_PIXELS or AVATAR_CORRUPT) for a refused image.
   * @throws NotFoundError (reason USER_NOT_FOUND) when the user does not exist.
   */
  upload(userId: string, bytes: Buffer): Promise<AvatarUrls>;
  /**
   * Removes the uploaded avatar (its files, and the key on the profile). A user without one is left as is.
   * @returns whether there was an avatar to remove.
   */
  remove(userId: string): Promise<{ removed: boolean }>;
}

const RENDITIONS: ReadonlyArray<'original' | AvatarSize> = ['original', ...AVATAR_SIZES];

/** The avatar service. See {@link AvatarService}. */
export function createAvatarService(options: AvatarServiceOptions): AvatarService {
  const { repository, storage, profiles, logger } = options;

  /** Removes one upload's files; `reason` goes to the log when that fails. */
  async function removeUpload(userId: string, avatarKey: string, reason: string): Promise<void> {
    // The key comes from the database: never let a damaged value delete anything outside this user's folder.
    if (!avatarKey.startsWith(avatarUserPrefix(userId)) || avatarKey.includes('..')) {
      logger.error({ userId, avatarKey }, 'avatar key outside the user folder; files left in place');
      return;
    }
    try {
      await storage.deletePrefix(`${avatarKey}/`);
    } catch (error) {
      logger.warn({ err: error, userId, avatarKey }, reason);
    }
  }

  async function upload(userId: string, bytes: Buffer): Promise<AvatarUrls> {
    if (!isUuid(userId)) throw userNotFound();
    const avatar = await processAvatar(bytes);
    const avatarKey = avatarUploadKey(userId, randomUUID());
    const bodies: Record<'original' | AvatarSize, Buffer> = {
      original: avatar.original.body,
      ...avatar.thumbnails,
    };

    let swap: AvatarKeySwap;
    try {
      // allSettled, not all: cleaning up while another put is still running could leave its file behind.
      const puts = await Promise.allSettled(
        RENDITIONS.map((rendition) =>
          storage.put(avatarObjectKey(avatarKey, rendition), bodies[rendition], {
            contentType: AVATAR_CONTENT_TYPE,
            cacheControl: PUBLIC_CACHE_CONTROL,
          }),
        ),
      );
      const failed = puts.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      swap = await repository.swapAvatarKey(userId, avatarKey);
    } catch (error) {
      await removeUpload(userId, avatarKey, 'files of a failed avatar upload not removed');
      throw error;
    }
    if (!swap.found) {
      await removeUpload(userId, avatarKey, 'files of an avatar upload for an unknown user not removed');
      throw userNotFound();
    }

    // Cache first: the moment the old files are gone, no cached profile may still point at them.
    await profiles.invalidate(userId);
    if (swap.previous !== null) {
      await removeUpload(userId, swap.previous, 'files of the replaced avatar not removed');
    }
    return avatarUrls(storage, avatarKey);
  }

  async function remove(userId: string): Promise<{ removed: boolean }> {
    if (!isUuid(userId)) return { removed: false };
    const swap = await repository.swapAvatarKey(userId, null);
    if (swap.previous === null) return { removed: false };
    await profiles.invalidate(userId);
    await removeUpload(userId, swap.previous, 'files of the removed avatar not removed');
    return { removed: true };
  }

  return { upload, remove };
}
