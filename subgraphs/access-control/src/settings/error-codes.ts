/**
 * Reasons the settings admin API attaches to errors as `extensions.details.reason`. They are the settings store's
 * own (`@gatehouse/settings`): one registry, whether the store or this API refuses a value.
 */
export { SettingsErrorCode } from '@gatehouse/settings';
