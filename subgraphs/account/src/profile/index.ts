export { ProfileErrorCode, type ProfileFieldError } from './error-codes';
export { sanitizeLine, sanitizeMultiline } from './sanitize';
export {
  BIO_MAX_LENGTH,
  DISPLAY_NAME_MAX_LENGTH,
  canonicalLocale,
  canonicalTimeZone,
  normalizePhoneNumber,
  parseProfileUpdate,
  profileUpdateSchema,
  type ProfileUpdate,
  type ProfileUpdateValidation,
} from './validation';
export {
  avatarObjectKey,
  avatarUploadKey,
  avatarUrls,
  avatarUserPrefix,
  type AvatarUrls,
} from './avatar-urls';
export {
  createProfileViewRepository,
  type AvatarKeySwap,
  type ProfileRecord,
  type ProfileViewRepository,
} from './profile-view.repository';
export {
  PROFILE_CACHE_INVALIDATION_HOLD_SECONDS,
  PROFILE_CACHE_TIMEOUT_MS,
  PROFILE_CACHE_TTL_SECONDS,
  createProfileStore,
  profileCacheKey,
  userNotFound,
  type AvatarView,
  type ProfileStore,
  type ProfileStoreOptions,
  type ProfileView,
  type UpdateProfileResult,
} from './profile-store';
