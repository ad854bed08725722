import { concerns } from '@gatehouse/config';
import { parsePublicKeys } from '@gatehouse/service';
import { z } from 'zod';
import type { SubgraphUrls } from './gateway';

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
 * JWT_ISSUER and JWT_PUBLIC_KEY, published at /.well-known (the gateway verifies no token itself: every
 * subgraph does). JWT_PUBLIC_KEY may be PEM (one or more SPKI blocks), a JWK or a JWKS, and becomes the parsed
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

/** Everything the gateway reads from the environment. */
export const gatewayConcerns = {
  runtime: concerns.runtime,
  http: concerns.http('GATEWAY', 4000),
  subgraphs: concerns.subgraphs,
  playground: playgroundConcern,
  supergraph: supergraphConcern,
  wellKnown: wellKnownConcern,
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
