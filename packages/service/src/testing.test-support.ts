/**
 * Test support for services and subgraphs, imported as `@gatehouse/service/testing` (never from production
 * code). Source only: builds leave it out, so it resolves under the `source` condition (Jest, tsx) alone.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { PrismaClient } from '@gatehouse/db';
import { createLogger } from '@gatehouse/logger';
import {
  createAccessTokenSigner,
  createAccessTokenVerifier,
  type AccessTokenSigner,
  type AccessTokenVerifier,
} from './auth';
import type { BaseContext } from './context';
import { GRAPHQL_PATH, startHttpService, type GraphQLEndpoint } from './http-server';
import type { SubgraphAppDependencies } from './subgraph-app';
import { SUBGRAPH_SECRET_HEADER } from './subgraph-secret';

/**
 * A fresh RSA-2048 key pair as PEM (SPKI public, PKCS#8 private), for tests and for the development start
 * script when no JWT keys are configured. Never use generated keys in production: tokens would not survive
 * a restart.
 */
export function generateRsaKeyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

export interface GraphQLTestResponse<TData = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: TData | null;
    errors?: Array<{
      message: string;
      path?: ReadonlyArray<string | number>;
      extensions?: Record<string, unknown>;
    }>;
  };
}

/**
 * The SUBGRAPH_SECRET of every subgraph the test kit starts (`startTestSubgraph`, the gateway's supergraph), and
 * of the gateway in front of them. A test value only: production requires its own.
 */
export const TEST_SUBGRAPH_SECRET = 'test-subgraph-secret-0123456789abcdef';

/** The header a request needs to be answered by a test subgraph, as the gateway sends it. */
export const TEST_SUBGRAPH_SECRET_HEADERS: Readonly<Record<string, string>> = {
  [SUBGRAPH_SECRET_HEADER]: TEST_SUBGRAPH_SECRET,
};

/**
 * POSTs a GraphQL operation over real HTTP (tests of services started with `startHttpService`). It sends
 * {@link TEST_SUBGRAPH_SECRET} as the gateway would, so a test can call a test subgraph directly (the gateway
 * ignores the header); a test of the refusal uses plain `fetch`.
 */
export async function postGraphQL<TData = Record<string, unknown>>(
  url: string,
  query: string,
  options: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLTestResponse<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...TEST_SUBGRAPH_SECRET_HEADERS,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLTestResponse<TData>['body'],
  };
}

/** The issuer and audience of test tokens: the development defaults of concerns.auth. */
export const TEST_TOKEN_AUDIENCE = { issuer: 'http://127.0.0.1:4000', audience: 'gatehouse' } as const;

export interface TestAuth {
  /** The PEM a service is configured with (JWT_PUBLIC_KEY) to trust `signer`. */
  publicKeyPem: string;
  signer: AccessTokenSigner;
  verifier: AccessTokenVerifier;
  /** A valid access token for `userId`, a `member` unless `roles` says otherwise. */
  tokenFor(userId: string, roles?: string[]): Promise<string>;
}

/** A fresh key pair with a signer and the verifier that trusts it. */
export function createTestAuth(): TestAuth {
  const keys = generateRsaKeyPair();
  const signer = createAccessTokenSigner({ privateKeyPem: keys.privateKeyPem, ...TEST_TOKEN_AUDIENCE });
  const verifier = createAccessTokenVerifier({ publicKeyPem: keys.publicKeyPem, ...TEST_TOKEN_AUDIENCE });
  return {
    publicKeyPem: keys.publicKeyPem,
    signer,
    verifier,
    tokenFor: (userId, roles = ['member']) => signer.sign({ userId, roles }),
  };
}

export interface StartTestSubgraphOptions<C extends BaseContext> {
  name: string;
  createApp(deps: SubgraphAppDependencies): GraphQLEndpoint<C>;
  prisma: PrismaClient;
  verifier: AccessTokenVerifier | null;
}

export interface TestSubgraph {
  /** The GraphQL endpoint on a free port of 127.0.0.1. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves a subgraph's app over real HTTP, as in production (answering only requests with
 * {@link TEST_SUBGRAPH_SECRET}) but on a free port and with a silent logger.
 */
export async function startTestSubgraph<C extends BaseContext>(
  options: StartTestSubgraphOptions<C>,
): Promise<TestSubgraph> {
  const logger = createLogger({ name: `${options.name}-test`, level: 'silent' });
  const app = options.createApp({
    prisma: options.prisma,
    logger,
    verifier: options.verifier,
    production: false,
  });
  const service = await startHttpService({
    name: options.name,
    host: '127.0.0.1',
    port: 0,
    logger,
    graphql: app,
    readinessChecks: {},
    subgraphSecret: TEST_SUBGRAPH_SECRET,
  });
  return { url: `${service.url}${GRAPHQL_PATH}`, stop: () => service.stop() };
}
