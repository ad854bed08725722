export {
  DATA_EXPORT_JOB,
  DATA_EXPORT_RATE_LIMIT_SECONDS,
  DATA_EXPORT_REQUESTED_ACTION,
  DATA_EXPORT_TTL_SECONDS,
  createDataExportService,
  dataExportKey,
  type DataExportClient,
  type DataExportJob,
  type DataExportLogger,
  type DataExportService,
  type DataExportServiceOptions,
  type DataExportView,
} from './data-export.service';
export {
  DATA_EXPORT_EXPIRE_JOB,
  registerDataExportJob,
  type RegisterDataExportJobOptions,
} from './data-export.job';
export {
  createDataExportRepository,
  type DataExportRepository,
  type DataExportStatus,
} from './data-export.repository';
export { DataExportErrorCode, DataExportFailure, DataExportRateLimitError } from './error-codes';
export { gatherUserData, type UserDataExportReader } from './user-data';
export { createUserDataExportReader } from './user-data.repository';
export {
  USER_EXPORT_FORMAT,
  type ExportedAccount,
  type ExportedAuditEntry,
  type ExportedDataExport,
  type ExportedEmailDelivery,
  type ExportedEmailVerification,
  type ExportedInvoice,
  type ExportedMfaFactor,
  type ExportedNotificationPreference,
  type ExportedOAuthAccount,
  type ExportedPasswordReset,
  type ExportedPayment,
  type ExportedPaymentMethod,
  type ExportedProfile,
  type ExportedRole,
  type ExportedSession,
  type ExportedSubscription,
  type ExportedUnsubscribeReceipt,
  type ExportedUsageRecord,
  type UserDataDocument,
} from './user-data.types';
