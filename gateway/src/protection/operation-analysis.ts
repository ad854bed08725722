import {
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { QueryRefusal, queryRefused } from './errors';

/**
 * Static limits on one GraphQL operation, checked before it is validated or planned: validation itself is
 * the first thing an abusive document attacks (OverlappingFieldsCanBeMerged is quadratic in the fields of a
 * selection set), so the walk below stops at the first limit it crosses.
 */
export interface QueryLimits {
  /** Deepest field nesting; root fields are depth 1. */
  readonly maxDepth: number;
  /** Static cost: 1 per field resolution, fields under a list multiplied by its size. */
  readonly maxCost: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  /** Root fields (each alias counts): the unit of rate limiting. */
  readonly maxRootFields: number;
  /** Size assumed for a list field without a `first`/`last`/`limit`/`pageSize`/`take` argument. */
  readonly defaultListSize: number;
}

/** How root fields are counted by the rate limiter. */
export type OperationClass = 'auth' | 'write' | 'read';
export const OPERATION_CLASSES: readonly OperationClass[] = ['auth', 'write', 'read'];

export interface OperationAnalysis {
  readonly depth: number;
  readonly cost: number;
  readonly aliases: number;
  readonly directives: number;
  readonly rootFields: number;
  /** Root-field invocations per class: 100 aliased `login`s are `{ auth: 100 }`. */
  readonly byClass: Readonly<Record<OperationClass, number>>;
}

const SIZE_ARGUMENTS = new Set(['first', 'last', 'limit', 'pageSize', 'take']);
/** Introspection is bounded by the schema and refused in production anyway; GraphiQL's query is 13 deep. */
const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

interface Walk {
  depth: number;
  cost: number;
  aliases: number;
  directives: number;
  rootFields: number;
  byClass: Record<OperationClass, number>;
  /** Variables whose values sized a list: the cache key must include them. */
  sizeVariables: Set<string>;
}

function check(value: number, limit: number, reason: QueryRefusal, what: string): void {
  if (value > limit)
    throw queryRefused(reason, `The operation exceeds the ${what} limit of ${limit}`, {
      limit,
      actual: value,
    });
}

/**
 * Measures the operation `operationName` of `document` (fragments expanded) against `limits`.
 * @throws GraphQLError (BAD_USER_INPUT, HTTP 400, `details.reason` QUERY_TOO_DEEP, QUERY_TOO_COMPLEX,
 * TOO_MANY_ALIASES, TOO_MANY_DIRECTIVES or TOO_MANY_ROOT_FIELDS, with `limit` and `actual`) at the first limit crossed.
 */
export function analyzeOperation(input: {
  document: DocumentNode;
  operationName?: string | null;
  schema: GraphQLSchema;
  variables?: Readonly<Record<string, unknown>>;
  limits: QueryLimits;
  /** Mutation root fields counted as `auth` (credential checks, e-mail senders). */
  authFields: ReadonlySet<string>;
}): OperationAnalysis & { sizeVariables: readonly string[] } {
  const { document, schema, variables, limits, authFields } = input;
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  let operations = 0;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    if (definition.kind === Kind.OPERATION_DEFINITION) {
      operations += 1;
      if (input.operationName ? definition.name?.value === input.operationName : operations === 1) {
        operation = definition;
      }
    }
  }
  const walk: Walk = {
    depth: 0,
    cost: 0,
    aliases: 0,
    directives: 0,
    rootFields: 0,
    byClass: { auth: 0, write: 0, read: 0 },
    sizeVariables: new Set(),
  };
  // No (or an ambiguous) operation: graphql-js answers that precisely later; there is nothing to measure.
  if (!operation || (!input.operationName && operations > 1)) return { ...walk, sizeVariables: [] };

  const rootType =
    operation.operation === 'mutation'
      ? schema.getMutationType()
      : operation.operation === 'subscription'
        ? schema.getSubscriptionType()
        : schema.getQueryType();
  const rootClass = (field: string): OperationClass =>
    operation.operation !== 'mutation' ? 'read' : authFields.has(field) ? 'auth' : 'write';

  walk.directives += operation.directives?.length ?? 0;

  const listSize = (args: readonly { name: { value: string }; value: ValueNode }[] | undefined): number => {
    for (const arg of args ?? []) {
      if (!SIZE_ARGUMENTS.has(arg.name.value)) continue;
      if (arg.value.kind === Kind.INT) return Math.max(0, Number(arg.value.value));
      if (arg.value.kind === Kind.VARIABLE) {
        const name = arg.value.name.value;
        walk.sizeVariables.add(name);
        const value = variables?.[name];
        if (typeof value === 'number' && Number.isFinite(value)) return Math.max(0, value);
      }
    }
    return limits.defaultListSize;
  };

  const visit = (
    selectionSet: SelectionSetNode,
    parent: GraphQLNamedType | null | undefined,
    depth: number,
    multiplier: number,
    fragmentPath: Set<string>,
  ): void => {
    for (const selection of selectionSet.selections) {
      walk.directives += selection.directives?.length ?? 0;
      check(walk.directives, limits.maxDirectives, QueryRefusal.TOO_MANY_DIRECTIVES, 'directive');
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (selection.alias) {
          walk.aliases += 1;
          check(walk.aliases, limits.maxAliases, QueryRefusal.TOO_MANY_ALIASES, 'alias');
        }
        if (depth === 1) {
          walk.rootFields += 1;
          walk.byClass[rootClass(name)] += 1;
          check(walk.rootFields, limits.maxRootFields, QueryRefusal.TOO_MANY_ROOT_FIELDS, 'root field');
        }
        if (INTROSPECTION_FIELDS.has(name)) continue;
        walk.depth = Math.max(walk.depth, depth);
        check(walk.depth, limits.maxDepth, QueryRefusal.QUERY_TOO_DEEP, 'depth');
        // At least 1: a field under `first: 0` still costs its visit (no free fragment bombs).
        walk.cost += Math.max(1, multiplier);
        check(walk.cost, limits.maxCost, QueryRefusal.QUERY_TOO_COMPLEX, 'cost');
        if (!selection.selectionSet) continue;
        // Unknown fields are walked as plain objects; validation refuses them afterwards.
        const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
        const isList = field ? isListType(getNullableType(field.type)) : false;
        const childMultiplier = isList ? multiplier * listSize(selection.arguments) : multiplier;
        visit(
          selection.selectionSet,
          field && getNamedType(field.type),
          depth + 1,
          childMultiplier,
          fragmentPath,
        );
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const typed = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        visit(selection.selectionSet, typed, depth, multiplier, fragmentPath);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        // A cycle is refused by validation (NoFragmentCycles); here it must only not loop.
        if (!fragment || fragmentPath.has(name)) continue;
        walk.directives += fragment.directives?.length ?? 0;
        fragmentPath.add(name);
        visit(
          fragment.selectionSet,
          schema.getType(fragment.typeCondition.name.value),
          depth,
          multiplier,
          fragmentPath,
        );
        fragmentPath.delete(name);
      }
    }
  };
  visit(operation.selectionSet, rootType, 1, 1, new Set());

  return { ...walk, sizeVariables: [...walk.sizeVariables] };
}

export interface OperationAnalyzer {
  /**
   * The analysis of `operationName` in the document whose sha256 is `queryHash`, from the cache when this
   * document (and, for lists sized by variables, these values) was measured before.
   * @throws the same refusals as {@link analyzeOperation}; refusals are cached too.
   */
  analyze(input: {
    queryHash: string;
    /** The parsed document, or how to parse it (only called on a cache miss). */
    document: DocumentNode | (() => DocumentNode);
    operationName?: string | null;
    schema: GraphQLSchema;
    variables?: Readonly<Record<string, unknown>>;
  }): OperationAnalysis;
}

type Cached = { analysis: OperationAnalysis } | { refusal: unknown };

/**
 * {@link analyzeOperation} memoised per document hash and operation name (the hot path is a Map lookup). At most
 * `maxEntries` results are kept; the oldest is dropped first (first-party clients send a few hundred distinct
 * documents; an attacker sending unique ones only churns the cache).
 */
export function createOperationAnalyzer(options: {
  limits: QueryLimits;
  authFields: ReadonlySet<string>;
  maxEntries?: number;
}): OperationAnalyzer {
  const { limits, authFields, maxEntries = 2000 } = options;
  const cache = new Map<string, Cached>();
  /** Per document: the variables sizing its lists (absent until measured once). */
  const sizeVariablesOf = new Map<string, readonly string[]>();

  const remember = (key: string, value: Cached) => {
    if (cache.size >= maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, value);
  };

  return {
    analyze(input) {
      const base = `${input.queryHash}:${input.operationName ?? ''}`;
      const sizeVariables = sizeVariablesOf.get(base);
      const key =
        sizeVariables && sizeVariables.length > 0
          ? `${base}:${JSON.stringify(sizeVariables.map((name) => input.variables?.[name] ?? null))}`
          : base;
      let cached = sizeVariables ? cache.get(key) : undefined;
      if (!cached) {
        try {
          const document = typeof input.document === 'function' ? input.document() : input.document;
          const { sizeVariables: found, ...analysis } = analyzeOperation({
            ...input,
            document,
            limits,
            authFields,
          });
          cached = { analysis };
          if (!sizeVariablesOf.has(base)) {
            if (sizeVariablesOf.size >= maxEntries) sizeVariablesOf.clear();
            sizeVariablesOf.set(base, found);
          }
          const finalKey =
            found.length > 0
              ? `${base}:${JSON.stringify(found.map((name) => input.variables?.[name] ?? null))}`
              : base;
          remember(finalKey, cached);
        } catch (error) {
          // A refusal may depend on variables not yet known to size lists; cache only variable-free ones.
          if (sizeVariables?.length === 0) remember(key, { refusal: error });
          throw error;
        }
      }
      if ('refusal' in cached) throw cached.refusal;
      return cached.analysis;
    },
  };
}
