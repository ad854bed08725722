export { WebhookErrorCode } from './error-codes';
export {
  createWebhookEndpointRepository,
  type WebhookEndpointRepository,
} from './webhook-endpoint.repository';
export {
  createWebhookDeliveryRepository,
  type WebhookDeliveryFanOutUnit,
  type WebhookDeliveryRepository,
} from './webhook-delivery.repository';
export { WEBHOOK_EVENT_TYPES, isWebhookEventType, type WebhookEventType } from './event-types';
export {
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  EVENT_ID_HEADER,
  SIGNATURE_HEADER,
  WEBHOOK_SECRET_PREFIX,
  signWebhookPayload,
  verifyWebhookSignature,
  type VerifyWebhookSignatureOptions,
  type WebhookSignatureFailure,
  type WebhookSignatureResult,
} from './signature';
export {
  ForbiddenDestinationError,
  checkWebhookUrl,
  guardedLookup,
  type WebhookUrlPolicy,
} from './url-policy';
export {
  MAX_WEBHOOK_ENDPOINTS_PER_OWNER,
  WebhookAuditAction,
  createWebhookEndpointService,
  type CreateWebhookEndpointInput,
  type UpdateWebhookEndpointInput,
  type WebhookAccess,
  type WebhookEndpointService,
  type WebhookEndpointServiceOptions,
  type WebhookEndpointView,
  type WebhookEndpointWithSecret,
  type WebhookOwner,
} from './webhook-endpoint.service';
export {
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS,
  WEBHOOK_DELIVERY_JOB,
  WEBHOOK_MAX_RESPONSE_BYTES,
  WEBHOOK_TIMEOUT_MS,
  WEBHOOK_USER_AGENT,
  createWebhookDeliveryService,
  type WebhookAttemptResult,
  type WebhookDeliveryConnection,
  type WebhookDeliveryJob,
  type WebhookDeliveryService,
  type WebhookDeliveryServiceOptions,
  type WebhookDeliveryStatus,
  type WebhookDeliveryView,
  type WebhookEvent,
  type WebhookLogger,
  type WebhookPayload,
} from './webhook-delivery.service';
export {
  registerWebhookDeliveryJob,
  startWebhookSweep,
  type RegisterWebhookDeliveryJobOptions,
  type WebhookSweep,
} from './webhook-delivery.job';
