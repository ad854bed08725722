/**
 * @gatehouse/client: the typed client of the Gatehouse API. Browser-safe: nothing here imports a Node module.
 *
 * - `createGatehouseClient`: sign-in (with MFA), tokens kept and refreshed, retries, subscriptions, and the typed
 *   SDK (`client.sdk`, one method per public operation).
 * - The typed documents (`MeDocument`, ...) and operation types, for Apollo Client or any GraphQL client.
 * - `verifyWebhookSignature`: checks billing's `Gatehouse-Signature` header.
 */
export {
  createGatehouseClient,
  operationMetaOf,
  type GatehouseClient,
  type GatehouseClientOptions,
  type SignInResult,
  type SignedInUser,
  type VerifyMfaResult,
} from './client.js';
export {
  createMemoryTokenStore,
  tokenSetFrom,
  type AuthPayloadTokens,
  type TokenSet,
  type TokenStore,
} from './auth.js';
export {
  GatehouseError,
  NetworkError,
  isErrorCode,
  isGatehouseError,
  isNetworkError,
  type ErrorCode,
  type ErrorReason,
  type GatehouseErrorOptions,
  type NetworkErrorOptions,
} from './errors.js';
export {
  cookieRefresh,
  createTokenManager,
  refreshTokenMutation,
  withAuth,
  type AuthFailureEvent,
  type AuthFailureReason,
  type CookieRefreshOptions,
  type RefreshStrategy,
  type TokenManager,
  type TokenManagerOptions,
} from './refresh.js';
export {
  NEVER_RETRIED_FIELDS,
  createRetryPolicy,
  parseRetryAfter,
  withRetry,
  type RetryPolicy,
  type RetryPolicyOptions,
} from './retry.js';
export {
  RealtimeCloseReason,
  createSubscriptionClient,
  type SubscriptionClient,
  type SubscriptionClientOptions,
} from './subscriptions.js';
export {
  createHttpTransport,
  type FetchLike,
  type HttpTransportOptions,
  type OperationKind,
  type OperationMeta,
  type OperationOptions,
  type Transport,
} from './transport.js';
export {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  WEBHOOK_EVENT_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  verifyWebhookSignature,
  type VerifyWebhookSignatureOptions,
  type WebhookSignatureFailure,
  type WebhookSignatureResult,
} from './webhooks.js';
export { ERROR_CODES, ERROR_REASONS } from './generated/error-codes.js';
export { createSdk, OPERATIONS, type OperationName, type Sdk } from './generated/sdk.js';
export * from './generated/graphql.js';
