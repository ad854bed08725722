/**
 * Why an avatar upload was refused, sent as `extensions.details.reason` next to `extensions.code`
 * BAD_USER_INPUT. Stable across releases: clients switch on them to show the right message.
 */
export const AvatarErrorCode = {
  /** The file is larger than AVATAR_MAX_BYTES (5 MB). */
  AVATAR_TOO_LARGE: 'AVATAR_TOO_LARGE',
  /** The content is not a JPEG, PNG or WebP image (judged by its bytes; the file name is never trusted). */
  AVATAR_TYPE_UNSUPPORTED: 'AVATAR_TYPE_UNSUPPORTED',
  /** The image declares more than AVATAR_MAX_PIXELS pixels (decompression bomb protection). */
  AVATAR_TOO_MANY_PIXELS: 'AVATAR_TOO_MANY_PIXELS',
  /** The bytes start like a supported image but cannot be decoded (truncated or damaged). */
  AVATAR_CORRUPT: 'AVATAR_CORRUPT',
} as const;

export type AvatarErrorCode = (typeof AvatarErrorCode)[keyof typeof AvatarErrorCode];
