export { AvatarErrorCode } from './error-codes';
export {
  AVATAR_CONTENT_TYPE,
  AVATAR_MAX_BYTES,
  AVATAR_MAX_PIXELS,
  AVATAR_ORIGINAL_MAX_DIMENSION,
  AVATAR_SIZES,
  AvatarError,
  processAvatar,
  sniffImageType,
  type AvatarInputType,
  type AvatarSize,
  type ProcessedAvatar,
} from './process-avatar';
export { createAvatarService, type AvatarService, type AvatarServiceOptions } from './avatar.service';
export {
  AVATAR_ROUTE_PATH,
  AvatarRouteErrorCode,
  createAvatarRoutes,
  type AvatarRoutesOptions,
} from './avatar.routes';
