import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import {
  createAccessTokenVerifier,
  type KeyRing,
  type ServiceMetrics,
  type VerificationKey,
} from '@gatehouse/service';
import type { z } from 'zod';
import type { corsConcern, gatewayAuthConcern, queryLimitsConcern, rateLimitConcern } from '../config';
import type { GatewayProtection } from '../server';
import { AUTH_ROOT_FIELDS } from './auth-root-fields';
import { createGatewayAuthenticator } from './authentication';
import { createHttpEdge } from './http-edge';
import { createOperationAnalyzer } from './operation-analysis';
import type { RateLimitPolicy } from './protection-plugin';
import { createSlidingWindowLimiter } from './sliding-window';
import { loadTrustedDocuments } from './trusted-documents';

export { AUTH_ROOT_FIELDS } from './auth-root-fields';
export { createGatewayAuthenticator, type GatewayAuthenticator } from './authentication';
export { CsrfRefusal, QueryRefusal } from './errors';
export {
  createHttpEdge,
  CSRF_COOKIE,
  CSRF_HEADER,
  CSRF_PATH,
  type HttpEdge,
  type HttpEdgeOptions,
} from './http-edge';
export {
  analyzeOperation,
  createOperationAnalyzer,
  type OperationAnalysis,
  type OperationAnalyzer,
  type OperationClass,
  type QueryLimits,
} from './operation-analysis';
export {
  createGraphQLGuard,
  rateLimitChecks,
  type GraphQLGuard,
  type ProtectionPluginOptions,
  type RateLimitPolicy,
} from './protection-plugin';
export {
  createSlidingWindowLimiter,
  millisecondsUntilFits,
  type RateLimitCheck,
  type RateLimitDecision,
  type SlidingWindowLimiter,
} from './sliding-window';
export { loadTrustedDocuments, trustedDocumentsFrom, type TrustedDocuments } from './trusted-documents';

export interface ProtectionConfig {
  readonly production: boolean;
  readonly issuer: string;
  /** JWT_PUBLIC_KEY, parsed; empty: tokens are left to the subgraphs. */
  readonly publicKeys: readonly VerificationKey[];
  readonly gatewayAuth: z.output<typeof gatewayAuthConcern>;
  readonly rateLimit: z.output<typeof rateLimitConcern>;
  readonly queryLimits: z.output<typeof queryLimitsConcern>;
  readonly cors: z.output<typeof corsConcern>;
}

function keyRingOf(keys: readonly VerificationKey[]): KeyRing {
  const byKid = new Map(keys.map((key) => [key.kid, key]));
  return { signingKey: undefined, verificationKeys: keys, find: (kid) => byKid.get(kid) };
}

/**
 * Every protection of the gateway, from configuration. `kv` must be the store identity records session
 * revocations in (same Redis, same prefix); rate-limit counters live there too.
 * @throws Error when the trusted-documents manifest cannot be read or is invalid.
 */
export function createGatewayProtection(
  config: ProtectionConfig,
  deps: { kv: KeyValueStore; logger: Logger; metrics?: ServiceMetrics },
): GatewayProtection {
  const { kv, logger, metrics } = deps;
  const { rateLimit, queryLimits } = config;
  const onStoreError = (err: unknown) =>
    logger.warn({ err }, 'rate-limit/session store unavailable; allowing');
  const limiter = createSlidingWindowLimiter({ kv, onStoreError });
  const policy: RateLimitPolicy = {
    windowSeconds: rateLimit.RATE_LIMIT_WINDOW_SECONDS,
    perIp: {
      auth: rateLimit.RATE_LIMIT_AUTH_PER_IP,
      write: rateLimit.RATE_LIMIT_WRITE_PER_IP,
      read: rateLimit.RATE_LIMIT_READ_PER_IP,
    },
    perUser: {
      auth: rateLimit.RATE_LIMIT_AUTH_PER_USER,
      write: rateLimit.RATE_LIMIT_WRITE_PER_USER,
      read: rateLimit.RATE_LIMIT_READ_PER_USER,
    },
  };
  const trustedDocuments = queryLimits.GRAPHQL_TRUSTED_DOCUMENTS
    ? loadTrustedDocuments(queryLimits.GRAPHQL_TRUSTED_DOCUMENTS)
    : undefined;
  const authenticator =
    config.publicKeys.length > 0
      ? createGatewayAuthenticator({
          verifier: createAccessTokenVerifier({
            keys: keyRingOf(config.publicKeys),
            issuer: config.issuer,
            audience: config.gatewayAuth.JWT_AUDIENCE,
          }),
          kv,
          onStoreError,
          ...(metrics
            ? { onVerified: (outcome) => metrics.business.tokenVerifications.inc({ outcome }) }
            : {}),
        })
      : undefined;

  return {
    ...(authenticator ? { authenticator } : {}),
    graphql: {
      analyzer: createOperationAnalyzer({
        authFields: AUTH_ROOT_FIELDS,
        limits: {
          maxDepth: queryLimits.GRAPHQL_MAX_DEPTH,
          maxCost: queryLimits.GRAPHQL_MAX_COST,
          maxAliases: queryLimits.GRAPHQL_MAX_ALIASES,
          maxDirectives: queryLimits.GRAPHQL_MAX_DIRECTIVES,
          maxRootFields: queryLimits.GRAPHQL_MAX_ROOT_FIELDS,
          defaultListSize: queryLimits.GRAPHQL_DEFAULT_LIST_SIZE,
        },
      }),
      ...(rateLimit.RATE_LIMIT_ENABLED ? { rateLimit: { limiter, policy } } : {}),
      ...(trustedDocuments ? { trustedDocuments } : {}),
      trustedOnly: queryLimits.GRAPHQL_TRUSTED_ONLY,
    },
    edge: createHttpEdge({
      corsOrigins: config.cors.CORS_ORIGINS,
      production: config.production,
      csrfExemptPaths: ['/unsubscribe'],
    }),
    ...(rateLimit.RATE_LIMIT_ENABLED
      ? {
          restRateLimit: {
            limiter,
            perIp: rateLimit.RATE_LIMIT_REST_PER_IP,
            windowSeconds: rateLimit.RATE_LIMIT_WINDOW_SECONDS,
          },
        }
      : {}),
    maxBodyBytes: queryLimits.GRAPHQL_MAX_BODY_BYTES,
    requestTimeoutMs: queryLimits.REQUEST_TIMEOUT_MS,
  };
}
