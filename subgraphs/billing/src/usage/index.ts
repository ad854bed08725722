export { UsageErrorCode } from './error-codes';
export {
  IdempotencyKeyReusedError,
  NoSubscriptionError,
  QuotaExceededError,
  UnknownMetricError,
  type QuotaExceededDetails,
} from './usage.errors';
export {
  MAX_USAGE_QUANTITY,
  METERED_STATUSES,
  createUsageService,
  usageCounterKey,
  type RecordUsageInput,
  type UsageLimitStatus,
  type UsageReport,
  type UsageService,
  type UsageServiceOptions,
} from './usage.service';
export { createUsageRepository, type UsageRepository } from './usage.repository';
export {
  USAGE_MAX_BODY_BYTES,
  USAGE_ROUTE_PATH,
  USAGE_WRITE_SCOPE,
  UsageRouteErrorCode,
  createUsageRoutes,
  type UsageRoutesOptions,
} from './usage.routes';
