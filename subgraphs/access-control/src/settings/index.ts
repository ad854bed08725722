export { SettingsErrorCode } from './error-codes';
export {
  createRateLimitPublisher,
  PUBLISHED_RATE_LIMITS_KEY,
  type RateLimitPublisher,
  type RateLimitPublisherOptions,
} from './rate-limit-publisher';
export {
  createSettingsAdminService,
  type SettingPayload,
  type SettingsAdminService,
  type SettingsChangeAuthor,
} from './settings-admin.service';
