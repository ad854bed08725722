import { ApolloServer, type BaseContext as ApolloBaseContext } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDisableSuggestions } from '@apollo/server/plugin/disableSuggestions';
import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { and, shield, type IRules } from 'graphql-shield';
import { ForbiddenError, formatGraphQLError } from '@gatehouse/errors';
import type { Logger } from '@gatehouse/logger';
import { allow, deny, impersonationAllowance, refuseImpersonation } from './rules';

/** A shield rule map: `{ TypeName: rule | { fieldName: rule, '*': rule } }`. */
export type PermissionMap = Extract<IRules, Record<string, unknown>>;

export interface SubgraphApolloServerOptions {
  typeDefs: DocumentNode;
  /**
   * Resolver map (codegen's `Resolvers` type). Typed loosely because codegen's resolver types and
   * `@apollo/subgraph`'s resolver map describe the same shape with incompatible generics.
   */
  resolvers: object;
  /**
   * Field permissions. Everything not listed is DENIED. Federation's `Query._service` and
   * `Query._entities` (and `_Service.sdl`) are allowed here; protect entity data through the rules of
   * the entity's fields, which run for `_entities` just as for any other query.
   */
  permissions: PermissionMap;
  logger: Logger;
  /** Hardens the server for production: no introspection, no field suggestions, no schema details in errors. */
  production: boolean;
}

type ShieldRule = Exclude<PermissionMap[string], Record<string, unknown>>;
type FieldPermissions = Record<string, ShieldRule>;

function isShieldRule(value: unknown): value is ShieldRule {
  return typeof (value as { resolve?: unknown } | null)?.resolve === 'function';
}

/**
 * Adds the federation plumbing every subgraph needs: the gateway reads `_service { sdl }` and resolves
 * entities through `_entities`. Allowing `_entities` exposes nothing by itself: the fields selected on the
 * returned entities are still checked by their own rules.
 */
function withFederationPermissions(permissions: PermissionMap, schema: GraphQLSchema): PermissionMap {
  const query = permissions.Query;
  const queryFields: FieldPermissions =
    query === undefined ? {} : isShieldRule(query) ? { '*': query } : { ...(query as FieldPermissions) };
  const schemaQueryFields = schema.getQueryType()?.getFields() ?? {};
  for (const field of ['_service', '_entities']) {
    if (field in queryFields) throw new Error(`Query.${field} permissions are managed by the service kit`);
    if (field in schemaQueryFields) queryFields[field] = allow;
  }
  return { ...permissions, _Service: allow, Query: queryFields };
}

/**
 * Impersonation is read-only by default: every Mutation field's rule runs behind {@link refuseImpersonation}
 * (FORBIDDEN, reason `IMPERSONATION_FORBIDDEN` for an impersonation token) unless the map marks it with
 * `allowedWhileImpersonating`. `and` answers the first error in rule order, so an impersonation token always gets
 * this refusal, whatever the field's own rule says (graphql-shield 7.6.5's `chain` cannot be used: its CommonJS
 * build calls a helper that does not exist). Fields without a rule are left to the deny fallback.
 */
function withImpersonationGuard(permissions: PermissionMap, schema: GraphQLSchema): PermissionMap {
  const mutationType = schema.getMutationType();
  const mutation = permissions[mutationType?.name ?? 'Mutation'];
  if (!mutationType || mutation === undefined) return permissions;
  const rules: FieldPermissions = isShieldRule(mutation) ? {} : (mutation as FieldPermissions);
  const guarded: FieldPermissions = {};
  for (const field of Object.keys(mutationType.getFields())) {
    const fieldRule = isShieldRule(mutation) ? mutation : (rules[field] ?? rules['*']);
    if (fieldRule === undefined) continue;
    guarded[field] = impersonationAllowance(fieldRule) ? fieldRule : and(refuseImpersonation, fieldRule);
  }
  return { ...permissions, [mutationType.name]: guarded };
}

/** Builds the executable, permission-guarded subgraph schema. Exposed separately for tests and tooling. */
export function buildGuardedSubgraphSchema(
  options: Pick<SubgraphApolloServerOptions, 'typeDefs' | 'resolvers' | 'permissions'>,
): GraphQLSchema {
  const schema = buildSubgraphSchema([
    { typeDefs: options.typeDefs, resolvers: options.resolvers as GraphQLResolverMap<unknown> },
  ]);
  const permissionShield = shield(
    withImpersonationGuard(withFederationPermissions(options.permissions, schema), schema),
    {
      fallbackRule: deny,
      // A function, so every denial is its own error instance rather than one shared, mutable object.
      fallbackError: () => new ForbiddenError(),
      // Resolver errors are formatted (and masked when unknown) by formatGraphQLError, not by shield.
      allowExternalErrors: true,
      debug: false,
    },
  );
  return applyMiddleware(schema, permissionShield);
}

/**
 * Creates a (not yet started) ApolloServer for a subgraph: federation schema, deny-by-default
 * graphql-shield permissions, masked errors, and no per-request work we do not need (inline tracing off,
 * no landing page).
 */
export function createSubgraphApolloServer<C extends ApolloBaseContext>(
  options: SubgraphApolloServerOptions,
): ApolloServer<C> {
  const { logger, production } = options;
  return new ApolloServer<C>({
    schema: buildGuardedSubgraphSchema(options),
    formatError: (formatted, error) => formatGraphQLError(formatted, error, { logger }),
    includeStacktraceInErrorResponses: false,
    introspection: !production,
    hideSchemaDetailsFromClientErrors: production,
    csrfPrevention: true,
    // The gateway never sends persisted-query hashes to subgraphs; no need for the extra surface.
    persistedQueries: false,
    // Signals are handled by the service's main(), which stops HTTP first and then Apollo.
    stopOnTerminationSignals: false,
    logger,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ...(production ? [ApolloServerPluginDisableSuggestions()] : []),
    ],
  });
}
