import { concerns } from '@gatehouse/config';
import { parsePublicKeys } from '@gatehouse/service';
import { z } from 'zod';
import type { SubgraphUrls } from './gateway';
import { parseTrustProxy, TRUST_NOBODY } from './protection/client-address';

/**
 * PLAYGROUND_ENABLED: serve the offline GraphiQL at /playground. Unset means "on, except in production", so a
 * production deployment exposes it only when an operator opts in.
 */
export const playgroundConcern = z.object({
  PLAYGROUND_ENABLED: z.stringbool({ error: 'must be true or false' }).optional(),
});

/** SUPERGRAPH_PATH: read the supergraph from this file instead of the committed gateway/supergraph.graphql. */
export const supergraphConcern = z.object({
  SUPERGRAPH_PATH: z.string().trim().min(1).optional(),
});

/**
 * JWT_ISSUER and JWT_PUBLIC_KEY, published at /.well-known and used by the gateway to verify access tokens
 * (the subgraphs verify them again). JWT_PUBLIC_KEY may be PEM (one or more SPKI blocks), a JWK or a JWKS, and becomes the parsed
 * keys; unset publishes an empty key set (the start script always sets it in development).
 */
export const wellKnownConcern = z.object({
  JWT_ISSUER: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .default('http://127.0.0.1:4000'),
  JWT_PUBLIC_KEY: z
    .string()
    .transform((value, ctx) => {
      try {
        return parsePublicKeys(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
});

/** A whole number from the environment, within bounds, with a documented default. */
function count(min: number, max: number, fallback: number) {
  const message = `expected an integer ${min}-${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, { error: message })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: message }).max(max, { error: message }))
    .default(fallback);
}

/**
 * Authentication at the gateway. JWT_ISSUER and JWT_PUBLIC_KEY are the well-known concern's (the same keys are
 * published and verified); JWT_AUDIENCE is the `aud` every access token must carry (as in the subgraphs).
 * Without JWT_PUBLIC_KEY the gateway verifies nothing itself and leaves it to the subgraphs (development only).
 */
export const gatewayAuthConcern = z.object({
  JWT_AUDIENCE: z.string().trim().min(1).default('gatehouse'),
});

/**
 * Rate limits per sliding window of RATE_LIMIT_WINDOW_SECONDS (default 60), by client IP and by verified user,
 * per operation class. Every root-field invocation costs 1 (100 aliased `login`s cost 100). `auth` covers the
 * credential-guessing and mail-sending mutations (see AUTH_ROOT_FIELDS); `write` other mutations; `read`
 * queries. RATE_LIMIT_REST_PER_IP counts the REST routes the gateway proxies (OAuth, avatar, unsubscribe,
 * files, audit export). State lives in Redis (REDIS_URL) shared by every gateway replica, else in-process.
 */
export const rateLimitConcern = z.object({
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  RATE_LIMIT_ENABLED: z.stringbool({ error: 'must be true or false' }).default(true),
  RATE_LIMIT_WINDOW_SECONDS: count(1, 86_400, 60),
  RATE_LIMIT_AUTH_PER_IP: count(1, 10_000_000, 30),
  RATE_LIMIT_AUTH_PER_USER: count(1, 10_000_000, 10),
  RATE_LIMIT_WRITE_PER_IP: count(1, 10_000_000, 600),
  RATE_LIMIT_WRITE_PER_USER: count(1, 10_000_000, 300),
  RATE_LIMIT_READ_PER_IP: count(1, 10_000_000, 6000),
  RATE_LIMIT_READ_PER_USER: count(1, 10_000_000, 3000),
  RATE_LIMIT_REST_PER_IP: count(1, 10_000_000, 300),
});

/**
 * TRUST_PROXY: which proxies in front of the gateway may say who the client is, in `X-Forwarded-For`. Unset (or
 * `0`): nobody, the client is the TCP peer and the header is ignored. A number N: the N nearest hops are proxies
 * (`1` for one load balancer). A comma-separated list of addresses and CIDR ranges (`10.0.0.0/8,fd00::/8`): the
 * header is walked from the right past addresses inside them. The result keys rate limits and is the
 * `X-Forwarded-For` the subgraphs get. Trusting a proxy that does not overwrite the header lets clients pick
 * their address.
 */
export const trustProxyConcern = z.object({
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return TRUST_NOBODY;
      try {
        return parseTrustProxy(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
});

/**
 * Limits on every GraphQL request, checked before validation and query planning (defaults in parentheses):
 * depth (12), static cost (10000: 1 per field, times the `first`/`last`/`limit` of enclosing lists or
 * GRAPHQL_DEFAULT_LIST_SIZE 20), aliases (30), directives (50), root fields (20), request body bytes
 * (GRAPHQL_MAX_BODY_BYTES, 256 KiB) and time (REQUEST_TIMEOUT_MS, 30 s). GRAPHQL_TRUSTED_DOCUMENTS names a JSON
 * manifest (sha256 → document) of first-party documents; GRAPHQL_TRUSTED_ONLY=true accepts nothing else.
 */
export const queryLimitsConcern = z
  .object({
    GRAPHQL_MAX_DEPTH: count(1, 1000, 12),
    GRAPHQL_MAX_COST: count(1, 100_000_000, 10_000),
    GRAPHQL_MAX_ALIASES: count(0, 100_000, 30),
    GRAPHQL_MAX_DIRECTIVES: count(0, 100_000, 50),
    GRAPHQL_MAX_ROOT_FIELDS: count(1, 100_000, 20),
    GRAPHQL_DEFAULT_LIST_SIZE: count(1, 100_000, 20),
    GRAPHQL_MAX_BODY_BYTES: count(1024, 100 * 1024 * 1024, 256 * 1024),
    REQUEST_TIMEOUT_MS: count(100, 600_000, 30_000),
    GRAPHQL_TRUSTED_DOCUMENTS: z.string().trim().min(1).optional(),
    GRAPHQL_TRUSTED_ONLY: z.stringbool({ error: 'must be true or false' }).default(false),
  })
  .superRefine((env, ctx) => {
    if (env.GRAPHQL_TRUSTED_ONLY && env.GRAPHQL_TRUSTED_DOCUMENTS === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['GRAPHQL_TRUSTED_ONLY'],
        message: 'needs GRAPHQL_TRUSTED_DOCUMENTS (the manifest of trusted documents)',
      });
    }
  });

/**
 * CORS_ORIGINS: comma-separated exact origins (`https://app.example.com`) whose browsers may call the gateway
 * with credentials; empty (the default) allows no cross-origin caller. No wildcards: an allow-list that
 * matches patterns is one typo away from allowing an attacker's domain.
 */
export const corsConcern = z.object({
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const origins = value
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin !== '');
      for (const origin of origins) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(origin);
        } catch {
          parsed = undefined;
        }
        if (
          !parsed ||
          !/^https?:$/.test(parsed.protocol) ||
          parsed.origin !== origin ||
          origin.includes('*')
        ) {
          ctx.addIssue({
            code: 'custom',
            message: `"${origin}" is not an exact origin like https://app.example.com`,
          });
          return z.NEVER;
        }
      }
      return origins;
    }),
});

/**
 * GATEWAY_WORKERS: how many gateway processes serve the port (`node:cluster`, default 1). One process saturates
 * one core; with 2 the gateway measured 20-40 % more throughput on 2 cores (docs/performance.md). Only the gateway
 * run on its own (`node gateway/dist/main.js`) reads it; `npm start` runs every service in one process. Workers
 * share rate-limit counters and revocations only through Redis: without REDIS_URL each worker counts on its own,
 * so the limits are effectively multiplied by the number of workers (a warning says so at start).
 */
export const workersConcern = z.object({
  GATEWAY_WORKERS: count(1, 64, 1),
});

/** Everything the gateway reads from the environment. */
export const gatewayConcerns = {
  runtime: concerns.runtime,
  http: concerns.http('GATEWAY', 4000),
  subgraphs: concerns.subgraphs,
  subgraphSecret: concerns.subgraphSecret,
  playground: playgroundConcern,
  supergraph: supergraphConcern,
  wellKnown: wellKnownConcern,
  gatewayAuth: gatewayAuthConcern,
  rateLimit: rateLimitConcern,
  trustProxy: trustProxyConcern,
  queryLimits: queryLimitsConcern,
  cors: corsConcern,
  workers: workersConcern,
};

/** Maps the subgraphs concern onto the federation subgraph names used in the supergraph. */
export function subgraphUrlsFrom(config: z.output<typeof concerns.subgraphs>): SubgraphUrls {
  return {
    identity: config.IDENTITY_URL,
    account: config.ACCOUNT_URL,
    'access-control': config.ACCESS_CONTROL_URL,
    billing: config.BILLING_URL,
  };
}

export function playgroundEnabled(production: boolean, config: z.output<typeof playgroundConcern>): boolean {
  return config.PLAYGROUND_ENABLED ?? !production;
}
