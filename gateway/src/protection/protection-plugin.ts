import { createHash } from 'node:crypto';
import type { ApolloServerPlugin, BaseContext, HTTPGraphQLRequest } from '@apollo/server';
import { parse, type GraphQLError, type GraphQLSchema } from 'graphql';
import type { Viewer } from '@gatehouse/service';
import { rateLimitSubjectOf } from './client-address';
import { QueryRefusal, queryRefused, rateLimited, unauthenticated } from './errors';
import {
  OPERATION_CLASSES,
  type OperationAnalysis,
  type OperationAnalyzer,
  type OperationClass,
} from './operation-analysis';
import type { RateLimitCheck, SlidingWindowLimiter } from './sliding-window';
import type { TrustedDocuments } from './trusted-documents';

/** What the plugin reads from the request context (the gateway's context has these). */
export interface ProtectedContext extends BaseContext {
  /** The client's canonical address (protection/client-address.ts). */
  readonly clientIp?: string;
  /** The verified token's viewer, when the request carried one. */
  readonly viewer?: Viewer;
  /** Started when the context was built, so its store round trip overlaps parsing and the rate limit's. */
  readonly sessionRevoked?: Promise<boolean>;
}

/** Per-window limits, per operation class, by client address and by verified user. */
export interface RateLimitPolicy {
  readonly windowSeconds: number;
  readonly perIp: Readonly<Record<OperationClass, number>>;
  readonly perUser: Readonly<Record<OperationClass, number>>;
}

/**
 * One check per class the operation touches, by IP (an IPv6 client by its /64) and (when authenticated) by user;
 * the cost is the number of root-field invocations of that class, so aliases and batched operations are counted
 * one by one.
 */
export function rateLimitChecks(
  byClass: OperationAnalysis['byClass'],
  policy: RateLimitPolicy,
  clientIp: string | undefined,
  userId: string | undefined,
): RateLimitCheck[] {
  const checks: RateLimitCheck[] = [];
  const subject = clientIp === undefined ? undefined : rateLimitSubjectOf(clientIp);
  for (const operationClass of OPERATION_CLASSES) {
    const cost = byClass[operationClass];
    if (cost === 0) continue;
    const { windowSeconds } = policy;
    if (subject) {
      checks.push({
        key: `${operationClass}:ip:${subject}`,
        limit: policy.perIp[operationClass],
        windowSeconds,
        cost,
      });
    }
    if (userId) {
      checks.push({
        key: `${operationClass}:user:${userId}`,
        limit: policy.perUser[operationClass],
        windowSeconds,
        cost,
      });
    }
  }
  return checks;
}

export interface ProtectionPluginOptions {
  readonly analyzer: OperationAnalyzer;
  /** Rate limiting; absent: off. */
  readonly rateLimit?: { readonly limiter: SlidingWindowLimiter; readonly policy: RateLimitPolicy };
  /** GRAPHQL_TRUSTED_DOCUMENTS: documents filled in by hash. */
  readonly trustedDocuments?: TrustedDocuments;
  /** GRAPHQL_TRUSTED_ONLY: refuse every document not in `trustedDocuments`. */
  readonly trustedOnly?: boolean;
}

/** The GraphQL half of the gateway's protection: a pre-check before Apollo, and an Apollo plugin. */
export interface GraphQLGuard<C extends ProtectedContext> {
  /**
   * Runs on the raw HTTP request before Apollo sees it: fills trusted documents in by hash, refuses untrusted
   * documents in trusted-only mode, and measures each document against the query limits, parsing it only the
   * first time its sha256 is seen. Apollo masks errors thrown from its parse/validation hooks as 500, and
   * validation is the first thing an abusive document attacks, so this runs before either.
   * @returns the refusal to answer with (HTTP status in `extensions.http`), or undefined.
   */
  precheck(request: HTTPGraphQLRequest): GraphQLError | undefined;
  /** Measures documents Apollo resolved itself (APQ by hash), then checks revocation and the rate limit. */
  readonly plugin: ApolloServerPlugin<C>;
}

interface OperationRequest {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function operationsOf(request: HTTPGraphQLRequest): OperationRequest[] {
  if (request.method === 'GET') {
    const params = new URLSearchParams(request.search);
    const json = (name: string): unknown => {
      const raw = params.get(name);
      if (raw === null) return undefined;
      try {
        return JSON.parse(raw);
      } catch {
        return undefined; // Apollo answers the malformed parameter itself
      }
    };
    return [
      {
        ...(params.has('query') ? { query: params.get('query') } : {}),
        operationName: params.get('operationName') ?? undefined,
        variables: json('variables'),
        extensions: json('extensions') as OperationRequest['extensions'],
      },
    ];
  }
  const { body } = request;
  const all: unknown[] = Array.isArray(body) ? body : [body];
  return all.filter((op): op is OperationRequest => typeof op === 'object' && op !== null);
}

/**
 * The gateway's GraphQL protections:
 * 1. `precheck` (before Apollo): trusted documents filled in by hash; in trusted-only mode anything else is
 *    refused (400 DOCUMENT_NOT_TRUSTED); depth, cost, alias, directive and root-field limits (400), from a
 *    cache keyed by the document's sha256 (the hot path is a hash and a Map lookup). Batched bodies (JSON
 *    arrays) are checked operation by operation.
 * 2. `didResolveOperation` (every operation, a cache lookup): the analysis for the chosen operation (documents
 *    sent by APQ hash are measured here), then the revoked-session check and the rate limit, awaited together:
 *    one store round trip. Each root-field invocation costs 1 in its class.
 * Every refusal happens before the query planner sends anything to a subgraph.
 */
export function createGraphQLGuard<C extends ProtectedContext>(
  options: ProtectionPluginOptions,
): GraphQLGuard<C> {
  const { analyzer, rateLimit, trustedDocuments, trustedOnly = false } = options;
  let schema: GraphQLSchema | undefined;

  const precheck = (request: HTTPGraphQLRequest): GraphQLError | undefined => {
    for (const operation of operationsOf(request)) {
      const hash = operation.extensions?.persistedQuery?.sha256Hash;
      if (trustedDocuments && typeof hash === 'string' && operation.query === undefined) {
        const trusted = trustedDocuments.get(hash);
        // Filled into the body Apollo reads next; APQ then checks the hash against the text.
        if (trusted !== undefined) operation.query = trusted;
      }
      const { query } = operation;
      if (typeof query !== 'string') {
        if (trustedOnly)
          return queryRefused(QueryRefusal.DOCUMENT_NOT_TRUSTED, 'Only trusted documents are accepted');
        continue;
      }
      const queryHash = sha256(query);
      if (trustedOnly && !trustedDocuments?.has(queryHash)) {
        return queryRefused(QueryRefusal.DOCUMENT_NOT_TRUSTED, 'Only trusted documents are accepted');
      }
      if (!schema) continue;
      try {
        analyzer.analyze({
          queryHash,
          document: () => parse(query),
          operationName: typeof operation.operationName === 'string' ? operation.operationName : null,
          schema,
          ...(typeof operation.variables === 'object' && operation.variables !== null
            ? { variables: operation.variables as Record<string, unknown> }
            : {}),
        });
      } catch (error) {
        // A syntax error is Apollo's to report (GRAPHQL_PARSE_FAILED); only our refusals answer here.
        if ((error as GraphQLError).extensions?.code === 'BAD_USER_INPUT') return error as GraphQLError;
      }
    }
    return undefined;
  };

  const plugin: ApolloServerPlugin<C> = {
    async serverWillStart() {
      return {
        schemaDidLoadOrUpdate({ apiSchema }) {
          schema = apiSchema;
        },
      };
    },
    async requestDidStart() {
      return {
        async didResolveOperation(rc) {
          const analysis = rc.queryHash
            ? analyzer.analyze({
                queryHash: rc.queryHash,
                document: rc.document,
                operationName: rc.request.operationName ?? null,
                schema: rc.schema,
                ...(rc.request.variables ? { variables: rc.request.variables } : {}),
              })
            : undefined;
          const { viewer, clientIp, sessionRevoked } = rc.contextValue;
          const checks =
            analysis && rateLimit
              ? rateLimitChecks(analysis.byClass, rateLimit.policy, clientIp, viewer?.userId)
              : [];
          const [revoked, decision] = await Promise.all([
            sessionRevoked ?? false,
            checks.length > 0 && rateLimit ? rateLimit.limiter.consume(checks) : undefined,
          ]);
          if (revoked) throw unauthenticated();
          if (decision && !decision.allowed) throw rateLimited(decision.retryAfterSeconds);
        },
      };
    },
  };

  return { precheck, plugin };
}
