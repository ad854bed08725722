import { ApolloGateway } from '@apollo/gateway';
import {
  buildASTSchema,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLObjectType,
  isEnumType,
  isScalarType,
  lexicographicSortSchema,
  parse,
  printSchema,
  type DefinitionNode,
  type GraphQLSchema,
  type TypeDefinitionNode,
} from 'graphql';
import { REALTIME_SDL } from './realtime/schema';

/**
 * The public API schema: what a client of the gateway can call. It is the supergraph's API schema (no `join__`,
 * `link__` or other federation internals) plus the realtime `Subscription` type and its payload types, which the
 * gateway serves itself over graphql-ws (@apollo/gateway does not federate subscriptions).
 *
 * One function builds it from both sources, so the committed `clients/schema.graphql` (scripts/public-schema.ts),
 * the gateway's development introspection and the operation-document tests all see the same schema.
 */

/** Realtime types that exist only on the WebSocket connection itself; not part of the public HTTP graph. */
const REALTIME_ONLY_TYPES: ReadonlySet<string> = new Set(['Query', 'RealtimeConnection']);

/**
 * Merges the realtime SDL's Subscription type and the types it uses into `apiSchema`. A type both define (the
 * `DateTime` scalar, the `AuditOutcome` enum) keeps the API schema's definition; it must be the same kind, and an
 * enum the same values, or this throws: the WebSocket would otherwise send values the schema does not declare.
 */
export function mergeRealtimeSubscription(
  apiSchema: GraphQLSchema,
  realtimeSdl = REALTIME_SDL,
): GraphQLSchema {
  if (apiSchema.getSubscriptionType()) return apiSchema;
  const api = parse(printSchema(apiSchema));
  const realtime = parse(realtimeSdl);
  const extra: DefinitionNode[] = [];
  for (const definition of realtime.definitions) {
    if (!isTypeDefinition(definition) || REALTIME_ONLY_TYPES.has(definition.name.value)) continue;
    const existing = apiSchema.getType(definition.name.value);
    if (!existing) {
      extra.push(definition);
      continue;
    }
    const sameKind =
      (definition.kind === 'ScalarTypeDefinition' && isScalarType(existing)) ||
      (definition.kind === 'EnumTypeDefinition' &&
        isEnumType(existing) &&
        sameValues(
          definition.values?.map((v) => v.name.value) ?? [],
          existing.getValues().map((v) => v.name),
        ));
    if (!sameKind) {
      throw new Error(
        `The realtime type ${definition.name.value} conflicts with the supergraph's type of the same name`,
      );
    }
  }
  return buildASTSchema({ kind: api.kind, definitions: [...api.definitions, ...extra] });
}

function isTypeDefinition(definition: DefinitionNode): definition is TypeDefinitionNode {
  return definition.kind.endsWith('TypeDefinition') && definition.kind !== 'DirectiveDefinition';
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/**
 * The supergraph's API schema, as @apollo/gateway derives it (the same schema the gateway serves over HTTP).
 * Loading a static supergraph does not contact any subgraph.
 */
export async function apiSchemaOf(supergraphSdl: string): Promise<GraphQLSchema> {
  const gateway = new ApolloGateway({ supergraphSdl });
  try {
    const { schema } = await gateway.load();
    return schema;
  } finally {
    await gateway.stop();
  }
}

/** The public API schema of a supergraph, sorted so its printed form is stable. */
export async function buildPublicSchema(supergraphSdl: string): Promise<GraphQLSchema> {
  return lexicographicSortSchema(mergeRealtimeSubscription(await apiSchemaOf(supergraphSdl)));
}

export const PUBLIC_SCHEMA_HEADER = [
  '# GENERATED FILE - DO NOT EDIT.',
  '# The public API schema: gateway/supergraph.graphql without federation internals, plus the realtime',
  '# Subscription type served over graphql-ws (gateway/src/realtime/schema.ts). Written by',
  '# scripts/public-schema.ts (`npm run schema:public`); CI fails when it is stale (`npm run schema:public:check`).',
  '',
  '',
].join('\n');

/** The committed form: header plus the sorted schema. */
export function printPublicSchema(schema: GraphQLSchema): string {
  return `${PUBLIC_SCHEMA_HEADER}${printSchema(schema).trimEnd()}\n`;
}

/**
 * Every type, field, argument, input field and enum value without a description, as `Type.field(arg)` paths
 * (built-in scalars and introspection types aside). The public schema is the documentation integrators read.
 */
export function undocumentedElements(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const blank = (description: string | null | undefined) => !description?.trim();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || (isScalarType(type) && BUILT_IN_SCALARS.has(type.name))) continue;
    if (blank(type.description)) missing.push(type.name);
    if (type instanceof GraphQLObjectType || type instanceof GraphQLInterfaceType) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field.description)) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args) {
          if (blank(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
        }
      }
    } else if (type instanceof GraphQLInputObjectType) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field.description)) missing.push(`${type.name}.${field.name}`);
      }
    } else if (type instanceof GraphQLEnumType) {
      for (const value of type.getValues()) {
        if (blank(value.description)) missing.push(`${type.name}.${value.name}`);
      }
    }
  }
  return missing.sort();
}

const BUILT_IN_SCALARS: ReadonlySet<string> = new Set(['String', 'Int', 'Float', 'Boolean', 'ID']);
