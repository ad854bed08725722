export { LeavingErrorCode } from './error-codes';
export {
  PERSONAL_AUDIT_METADATA_KEYS,
  REACTIVATION_TOKEN_HASH_PREFIX,
  REDACTED_RECIPIENT,
  createLeavingRepository,
  purgedEmail,
  type LeavingRepository,
  type PurgeCounts,
} from './leaving.repository';
export {
  PURGE_AFTER_DAYS,
  REACTIVATION_MAIL_INTERVAL_SECONDS,
  REACTIVATION_TOKEN_TTL_HOURS,
  avatarStoragePrefix,
  createLeavingService,
  exportStoragePrefix,
  type AccountFileStorage,
  type LeavingLogger,
  type LeavingService,
  type LeavingServiceOptions,
  type PurgeResult,
  type ReactivationAccount,
} from './leaving.service';
export {
  ACCOUNT_PURGE_JOB,
  PURGE_CHECK_INTERVAL_MS,
  purgeJobId,
  startPurgeSchedule,
  type AccountPurgeJob,
  type PurgeSchedule,
  type PurgeScheduleOptions,
} from './purge-schedule';
export { MIN_PSEUDONYM_KEY_BYTES, pseudonymizeUserId } from './pseudonym';
