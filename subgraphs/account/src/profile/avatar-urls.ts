import type { ObjectStorage } from '@gatehouse/storage';
import { AVATAR_SIZES, type AvatarSize } from '../avatar/process-avatar';

/** Where a user's avatars live in object storage; one sub-folder per upload. */
export function avatarUserPrefix(userId: string): string {
  return `public/avatars/${userId}/`;
}

/** The object-storage prefix of one upload (what `user_profiles.avatar_key` holds, without trailing slash). */
export function avatarUploadKey(userId: string, uploadId: string): string {
  return `${avatarUserPrefix(userId)}${uploadId}`;
}

/** The object key of one rendition of an upload: `<avatarKey>/original.webp` or `<avatarKey>/<size>.webp`. */
export function avatarObjectKey(avatarKey: string, rendition: 'original' | AvatarSize): string {
  return `${avatarKey}/${rendition}.webp`;
}

/** Public URLs of an avatar: the re-encoded original and the square thumbnails. */
export interface AvatarUrls {
  original: string;
  sizes: Record<AvatarSize, string>;
}

/** The public URLs of the upload stored under `avatarKey` (unique per upload, so cacheable forever). */
export function avatarUrls(storage: Pick<ObjectStorage, 'publicUrl'>, avatarKey: string): AvatarUrls {
  const sizes = Object.fromEntries(
    AVATAR_SIZES.map((size) => [size, storage.publicUrl(avatarObjectKey(avatarKey, size))]),
  ) as Record<AvatarSize, string>;
  return { original: storage.publicUrl(avatarObjectKey(avatarKey, 'original')), sizes };
}
