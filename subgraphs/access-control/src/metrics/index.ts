export { adminMetrics } from './admin-metrics.resolver';
export { MAX_METRICS_RANGE_DAYS, MetricsErrorCode } from './error-codes';
export {
  createMetricsRepository,
  metricQueries,
  type CurrencyAmount,
  type KeyedCount,
  type MetricsPeriod,
  type MetricsRepository,
  type OperationUsage,
  MAX_API_USAGE_OPERATIONS,
} from './metrics.repository';
export {
  API_USAGE_TOPIC,
  startApiUsageConsumer,
  type ApiUsageBatch,
  type ApiUsageConsumerOptions,
} from './api-usage.consumer';
export {
  createApiUsageRepository,
  recordApiUsage,
  type ApiUsageEntry,
  type ApiUsageRepository,
} from './api-usage.repository';
export {
  createMetricsService,
  DEFAULT_METRICS_RANGE_DAYS,
  resolveMetricsPeriod,
  type AdminMetricsSnapshot,
  type MetricsPeriodInput,
  type MetricsService,
  type MetricsServiceOptions,
} from './metrics.service';
