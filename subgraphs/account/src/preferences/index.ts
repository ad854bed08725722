export { PreferenceErrorCode } from './error-codes';
export {
  createPreferenceRepository,
  type PreferenceChange,
  type PreferenceRepository,
  type StoredPreference,
  type UnsubscribeOutcome,
} from './preference.repository';
export {
  createPreferenceService,
  type NotificationPreferenceEntry,
  type PreferenceService,
  type PreferenceServiceOptions,
} from './preference.service';
export {
  UNSUBSCRIBE_PATH,
  createUnsubscribeRoutes,
  type UnsubscribeRoutesOptions,
} from './unsubscribe.routes';
