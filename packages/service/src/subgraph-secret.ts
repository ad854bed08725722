import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { readOrCreateDevelopmentSecret } from '@gatehouse/config';

/**
 * The header that carries the gateway↔subgraph shared secret (SUBGRAPH_SECRET). The gateway sets it on every request
 * it sends a subgraph (GraphQL, proxied REST routes) and never copies a client's own; a subgraph refuses every
 * request without it except its health probes.
 */
export const SUBGRAPH_SECRET_HEADER = 'x-subgraph-secret';

/** The `error` of a subgraph's refusal of a request that did not come from the gateway (HTTP 403). */
export const SUBGRAPH_SECRET_REQUIRED = 'SUBGRAPH_SECRET_REQUIRED';

/** Where the development secrets live (`npm start` writes them there too): beside the JWT dev keys. */
const DEVELOPMENT_KEY_DIR = path.resolve(__dirname, '..', '..', '..', '.data', 'keys');

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * A constant-time check of a presented secret: both sides are hashed first, so the comparison never depends on the
 * length or the content of what the caller sent.
 */
export function secretMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Requests that presented the gateway's secret (set by the HTTP server, read by {@link isFromGateway}). */
const gatewayRequests = new WeakSet<IncomingMessage>();

/**
 * Checks the request's {@link SUBGRAPH_SECRET_HEADER} against `secret` and remembers the outcome for
 * {@link isFromGateway}. A repeated header (an array) never matches.
 */
export function authenticateGatewayRequest(req: IncomingMessage, secret: string): boolean {
  const presented = req.headers[SUBGRAPH_SECRET_HEADER];
  const valid = typeof presented === 'string' && secretMatches(presented, secret);
  if (valid) gatewayRequests.add(req);
  return valid;
}

/**
 * Whether this request carried the gateway's secret. Only then are headers the gateway sets on the caller's behalf
 * (X-Forwarded-For) believed; without a configured secret nothing is.
 */
export function isFromGateway(req: IncomingMessage): boolean {
  return gatewayRequests.has(req);
}

/**
 * The secret a service uses: SUBGRAPH_SECRET when configured (required in production, which the config concern
 * enforces). Outside production an unset secret is the per-install development secret under `.data/keys`, the one
 * `npm start` also uses, so one service started alone and the benchmark agree with it without any setup.
 */
export function resolveSubgraphSecret(
  configured: string | undefined,
  options: { production: boolean; keyDir?: string },
): string {
  if (configured !== undefined) return configured;
  if (options.production) throw new Error('SUBGRAPH_SECRET is required when NODE_ENV=production');
  return readOrCreateDevelopmentSecret(options.keyDir ?? DEVELOPMENT_KEY_DIR, 'SUBGRAPH_SECRET');
}
