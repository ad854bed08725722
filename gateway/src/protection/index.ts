import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import {
  createAccessTokenVerifier,
  type KeyRing,
  type ServiceMetrics,
  type VerificationKey,
} from '@gatehouse/service';
import type { z } from 'zod';
import type {
  corsConcern,
  gatewayAuthConcern,
  queryLimitsConcern,
  rateLimitConcern,
  trustProxyConcern,
} from '../config';
import type { GatewayProtection } from '../server';
import { AUTH_ROOT_FIELDS } from './auth-root-fields';
import { createGatewayAuthenticator } from './authentication';
import { createClientAddressResolver } from './client-address';
import { createHttpEdge } from './http-edge';
import { createOperationAnalyzer } from './operation-analysis';
import type { ProtectionPluginOptions } from './protection-plugin';
import {
  createRateLimitHolder,
  rateLimitsFromEnv,
  type RateLimitSettingsTarget,
} from './rate-limit-settings';
import { createSlidingWindowLimiter } from './sliding-window';
import { loadTrustedDocuments } from './trusted-documents';

export {
  AUTH_ROOT_FIELDS,
  CREDENTIAL_ARGUMENT,
  NOT_AUTH_DESPITE_CREDENTIAL_ARGUMENT,
} from './auth-root-fields';
export { createGatewayAuthenticator, type GatewayAuthenticator } from './authentication';
export {
  canonicalIp,
  createClientAddressResolver,
  parseTrustProxy,
  peerAddressOf,
  rateLimitSubjectOf,
  TRUST_NOBODY,
  type ClientAddressResolver,
  type ClientAddressSource,
  type TrustProxy,
} from './client-address';
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
  createRateLimitHolder,
  PUBLISHED_RATE_LIMITS_KEY,
  rateLimitPolicyOf,
  rateLimitsFromEnv,
  startRateLimitSettingsReader,
  type RateLimitHolder,
  type RateLimitSettings,
  type RateLimitSettingsReader,
  type RateLimitSettingsReaderOptions,
  type RateLimitSettingsTarget,
} from './rate-limit-settings';
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
  /** TRUST_PROXY, parsed; absent: no proxy is trusted (the client is the TCP peer). */
  readonly trustProxy?: z.output<typeof trustProxyConcern>;
}

function keyRingOf(keys: readonly VerificationKey[]): KeyRing {
  const byKid = new Map(keys.map((key) => [key.kid, key]));
  return { signingKey: undefined, verificationKeys: keys, find: (kid) => byKid.get(kid) };
}

/** The gateway's protection, whose rate limits the `rateLimits` setting can replace while it serves. */
export type ConfiguredGatewayProtection = GatewayProtection & RateLimitSettingsTarget;

/**
 * Every protection of the gateway, from configuration. `kv` must be the store identity records session
 * revocations in (same Redis, same prefix); rate-limit counters live there too. The rate limits start as the
 * RATE_LIMIT_* environment; `setRateLimits` (the settings reader) swaps them without a restart.
 * RATE_LIMIT_ENABLED=false turns rate limiting off whatever the setting says.
 * @throws Error when the trusted-documents manifest cannot be read or is invalid.
 */
export function createGatewayProtection(
  config: ProtectionConfig,
  deps: { kv: KeyValueStore; logger: Logger; metrics?: ServiceMetrics },
): ConfiguredGatewayProtection {
  const { kv, logger, metrics } = deps;
  const { rateLimit, queryLimits } = config;
  const onStoreError = (err: unknown) =>
    logger.warn({ err }, 'rate-limit/session store unavailable; allowing');
  const limiter = createSlidingWindowLimiter({ kv, onStoreError });
  const limits = createRateLimitHolder(rateLimitsFromEnv(rateLimit));
  // Getters, not copies: the GraphQL guard and the REST route read the limits in force on every request.
  const graphqlRateLimit: NonNullable<ProtectionPluginOptions['rateLimit']> = {
    limiter,
    get policy() {
      return limits.policy;
    },
  };
  const restRateLimit: NonNullable<GatewayProtection['restRateLimit']> = {
    limiter,
    get perIp() {
      return limits.rateLimits.rest.perIp;
    },
    get windowSeconds() {
      return limits.rateLimits.windowSeconds;
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
      ...(rateLimit.RATE_LIMIT_ENABLED ? { rateLimit: graphqlRateLimit } : {}),
      ...(trustedDocuments ? { trustedDocuments } : {}),
      trustedOnly: queryLimits.GRAPHQL_TRUSTED_ONLY,
    },
    edge: createHttpEdge({
      corsOrigins: config.cors.CORS_ORIGINS,
      production: config.production,
      csrfExemptPaths: ['/unsubscribe'],
    }),
    ...(rateLimit.RATE_LIMIT_ENABLED ? { restRateLimit } : {}),
    clientAddress: createClientAddressResolver(config.trustProxy?.TRUST_PROXY),
    maxBodyBytes: queryLimits.GRAPHQL_MAX_BODY_BYTES,
    requestTimeoutMs: queryLimits.REQUEST_TIMEOUT_MS,
    get rateLimits() {
      return limits.rateLimits;
    },
    setRateLimits: (next) => limits.setRateLimits(next),
  };
}
