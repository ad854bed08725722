export { clientInfoFrom, type ClientInfo } from './client-info';
export {
  buildGuardedSubgraphSchema,
  createSubgraphApolloServer,
  type PermissionMap,
  type SubgraphApolloServerOptions,
} from './apollo';
export {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_TTL_SECONDS,
  ACCESS_TOKEN_TYPE,
  bearerTokenFrom,
  createAccessTokenSigner,
  createAccessTokenVerifier,
  type AccessTokenSigner,
  type AccessTokenSignerOptions,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type SignAccessTokenOptions,
  type Viewer,
} from './auth';
export { buildBaseContext, type BaseContext, type BuildBaseContextInput } from './context';
export {
  createKeyRing,
  jwkThumbprint,
  parsePrivateKey,
  parsePublicKeys,
  PRIVATE_JWK_MEMBERS,
  rsaPublicJwk,
  type KeyRing,
  type KeyRingOptions,
  type RsaPublicJwk,
  type SigningKey,
  type VerificationKey,
} from './keys';
export {
  ACCESS_TOKEN_CLAIMS,
  discoveryDocument,
  DISCOVERY_PATH,
  jwksDocument,
  JWKS_PATH,
  type DiscoveryDocument,
  type DiscoveryDocumentOptions,
  type JwksDocument,
  type PublishedJwk,
} from './jwks';
export {
  GRAPHQL_PATH,
  sendJson,
  startHttpService,
  type GraphQLEndpoint,
  type HttpService,
  type HttpServiceOptions,
  type ReadinessCheck,
  type RouteHandler,
} from './http-server';
export {
  collectJobQueueDepth,
  createOperationLabeler,
  createServiceMetrics,
  MAX_OPERATION_NAMES,
  METRIC_NAMES,
  METRICS_PATH,
  metricsSettingsFromEnv,
  observabilityPlugin,
  serveMetrics,
  type CollectOptions,
  type CreateServiceMetricsOptions,
  type GaugeCollector,
  type GaugeReading,
  type MetricsEndpointSettings,
  type ServiceMetrics,
} from './metrics';
export {
  currentTraceContext,
  formatTraceparent,
  parseTraceparent,
  runWithTraceContext,
  setTraceHeaders,
  traceContextFrom,
  TRACE_ID_HEADER,
  TRACEPARENT_HEADER,
  TRACERESPONSE_HEADER,
  TRACESTATE_HEADER,
  type SettableHeaders,
  type TraceContext,
} from './tracing';
export { DEFAULT_MAX_BATCH_SIZE, groupedLoaderByKey, loaderByKey, type LoaderOptions } from './loaders';
export {
  ADMIN_ROLE,
  allow,
  allowedWhileImpersonating,
  and,
  deny,
  IMPERSONATION_FORBIDDEN,
  impersonationAllowance,
  isAdmin,
  isAuthenticated,
  isSelf,
  isSelfOrAdmin,
  not,
  notImpersonating,
  refuseImpersonation,
  or,
} from './rules';
export {
  argumentIsViewerOrOmitted,
  createEffectivePermissions,
  DEFAULT_EFFECTIVE_PERMISSIONS_TTL_SECONDS,
  effectivePermissionsKey,
  hasPermission,
  viewerPermissions,
  type EffectivePermissions,
  type EffectivePermissionsOptions,
  type PermissionContext,
} from './permission-rules';
// The permission registry lives in @gatehouse/db (the seed stores it); re-exported for services and the gateway.
export { AUDIT_READ_PERMISSION, SYSTEM_PERMISSIONS, type SystemPermission } from '@gatehouse/db';
export { effectiveAccessQuery, readEffectiveAccess, type EffectiveAccess } from './effective-access';
export { DateTimeScalar } from './scalars';
export { isUuid } from './ids';
export { decodeKeysetCursor, encodeKeysetCursor, keysetAfter, type KeysetPosition } from './keyset-cursor';
export { isPublicAddress, NON_PUBLIC_IPV4_RANGES, NON_PUBLIC_IPV6_RANGES } from './public-address';
export { runService, stopOnSignals } from './lifecycle';
export {
  startSubgraph,
  type RunningSubgraph,
  type StartSubgraphOptions,
  type SubgraphEndpoint,
  type SubgraphEnvPrefix,
  type SubgraphRuntime,
} from './run-subgraph';
export {
  createServiceKit,
  type ServiceKit,
  type ServiceKitOptions,
  type SharedServiceResources,
} from './service-kit';
export {
  createSubgraphApp,
  type SubgraphApp,
  type SubgraphAppDependencies,
  type SubgraphAppOptions,
} from './subgraph-app';
export {
  isFromGateway,
  resolveSubgraphSecret,
  secretMatches,
  SUBGRAPH_SECRET_HEADER,
  SUBGRAPH_SECRET_REQUIRED,
} from './subgraph-secret';
export {
  createSessionStatusChecker,
  isSessionRevocationRecorded,
  recordSessionRevoked,
  sessionStatusKey,
  type SessionCheck,
  type SessionStatusCheckerOptions,
  type SessionStatusStore,
  type RecordSessionRevokedOptions,
} from './session-status';
export {
  createSessionActivityRecorder,
  createSessionLivenessQuery,
  DEFAULT_SESSION_ACTIVITY_THROTTLE_SECONDS,
  DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS,
  sessionActivityKey,
  throttleSessionActivity,
  type SessionActivityOptions,
  type SessionLivenessOptions,
} from './session-liveness';
export { readBodyUpTo } from './request-body';
export {
  bearerViewerFrom,
  createRestRoute,
  RestError,
  RestErrorCode,
  viewerAuthentication,
  type BearerViewerOptions,
  type RestAuthentication,
  type RestBodyOptions,
  type RestErrorBody,
  type RestErrorOptions,
  type RestRequest,
  type RestResult,
  type RestRouteLogger,
  type RestRouteOptions,
  type ViewerAuthenticationOptions,
} from './rest-route';
