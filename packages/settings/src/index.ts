export {
  PUBLISHED_RATE_LIMITS_KEY,
  isSettingKey,
  OAUTH_PROVIDERS,
  OVERRIDABLE_EMAIL_TEMPLATES,
  SETTING_KEYS,
  SETTINGS,
  type EmailTemplateOverride,
  type OAuthProviderKey,
  type OverridableEmailTemplate,
  type SettingCategory,
  type SettingDefinition,
  type SettingKey,
  type SettingsRegistry,
  type SettingValue,
} from './registry';
export {
  createSettingsStore,
  emailTemplateOverrides,
  SETTINGS_CHANGED_TOPIC,
  SettingsAuditAction,
  type FeatureFlagView,
  type SettingsActor,
  type SettingsChangedEvent,
  type SettingsStore,
  type SettingsStoreOptions,
  type SettingView,
} from './settings-store';
export {
  evaluateFlag,
  featureFlagInputSchema,
  featureFlagKeySchema,
  rolloutBucket,
  type FeatureFlagConfig,
  type FeatureFlagInput,
} from './feature-flags';
export { SettingsErrorCode, type SettingsIssue } from './error-codes';
export type { CacheErrorReporter } from './two-level-cache';
