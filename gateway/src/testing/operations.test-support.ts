// Test-only (excluded from the build): generates valid GraphQL operations from a schema, so authorization tests
// cover every field the schema has today and every field added later, without a hand-kept list.
import { randomUUID } from 'node:crypto';
import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';

/** Input objects nested deeper than this get no further required fields filled (only cycles get that far). */
const MAX_INPUT_DEPTH = 5;

/** Dummy values for custom scalars the default (`'x'`) would not parse as. */
const SCALAR_VALUES: Record<string, () => unknown> = {
  ID: () => randomUUID(),
  String: () => 'x',
  Int: () => 1,
  Float: () => 1,
  Boolean: () => false,
  DateTime: () => new Date().toISOString(),
  JSON: () => ({}),
  JSONObject: () => ({}),
};

/**
 * A type-correct value for an input type: ID -> a random uuid, String -> 'x', Int -> 1, an enum -> its first
 * value, a list -> one element, an input object -> its required fields (recursively).
 */
export function dummyValue(type: GraphQLInputType, depth = 0): unknown {
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    return depth >= MAX_INPUT_DEPTH ? [] : [dummyValue(nullable.ofType as GraphQLInputType, depth + 1)];
  }
  if (isEnumType(nullable)) return nullable.getValues()[0]?.value;
  if (isInputObjectType(nullable)) {
    const value: Record<string, unknown> = {};
    if (depth >= MAX_INPUT_DEPTH) return value;
    for (const field of Object.values(nullable.getFields())) {
      if (isNonNullType(field.type) && field.defaultValue === undefined) {
        value[field.name] = dummyValue(field.type, depth + 1);
      }
    }
    return value;
  }
  return (SCALAR_VALUES[nullable.name] ?? (() => 'x'))();
}

/** An argument the operation must pass: non-null and without a default. */
function isRequired(arg: GraphQLArgument): boolean {
  return isNonNullType(arg.type) && arg.defaultValue === undefined;
}

/** A generated operation, ready for `postGraphQL(url, query, { variables })`. */
export interface GeneratedOperation {
  query: string;
  variables: Record<string, unknown>;
}

/**
 * Builds one operation out of field selections, passing every argument through a variable (`$v0`, `$v1`, ...)
 * so values need no GraphQL literal syntax.
 */
export class OperationBuilder {
  private readonly definitions: string[] = [];
  private readonly values: Record<string, unknown> = {};

  /** Declares a variable of `type` (e.g. `ID!`) holding `value`; returns its reference (`$v0`). */
  variable(type: string, value: unknown): string {
    const name = `v${this.definitions.length}`;
    this.definitions.push(`$${name}: ${type}`);
    this.values[name] = value;
    return `$${name}`;
  }

  /** `(name: $v0, ...)` for the field's required arguments with dummy values; empty when it has none. */
  requiredArguments(field: Pick<GraphQLField<unknown, unknown>, 'args'>): string {
    // Optional ID arguments are filled too: they name whose data a field is about (`whyCanI(userId:)`), and
    // leaving them out would ask about the caller's own data instead of someone else's.
    const args = field.args
      .filter((arg) => isRequired(arg) || getNamedType(arg.type).name === 'ID')
      .map((arg) => `${arg.name}: ${this.variable(String(arg.type), dummyValue(arg.type))}`);
    return args.length > 0 ? `(${args.join(', ')})` : '';
  }

  /** The field called with its required arguments and the smallest valid selection (`{ __typename }`). */
  minimalField(field: GraphQLField<unknown, unknown>, alias?: string): string {
    const selection = isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '';
    return `${alias ? `${alias}: ` : ''}${field.name}${this.requiredArguments(field)}${selection}`;
  }

  /**
   * The field with every leaf below it, one level deep: a scalar or enum field as is; an object field with all of
   * its own scalar and enum fields (and `__typename`, so the selection is never empty).
   */
  fieldWithLeaves(field: GraphQLField<unknown, unknown>): string {
    return `${field.name}${this.requiredArguments(field)}${this.leafSelection(field.type)}`;
  }

  private leafSelection(type: GraphQLOutputType): string {
    const named = getNamedType(type);
    if (isLeafType(named)) return '';
    if (!isObjectType(named) && !isInterfaceType(named)) return ' { __typename }';
    const leaves = Object.values(named.getFields())
      .filter((nested) => isLeafType(getNamedType(nested.type)))
      .map((nested) => `${nested.name}${this.requiredArguments(nested)}`);
    return ` { __typename ${leaves.join(' ')} }`;
  }

  /** The whole operation: `kind` (`query`, `mutation`) with the variables declared so far around `body`. */
  build(kind: 'query' | 'mutation' | 'subscription', body: string): GeneratedOperation {
    const definitions = this.definitions.length > 0 ? `(${this.definitions.join(', ')})` : '';
    return { query: `${kind} Generated${definitions} { ${body} }`, variables: { ...this.values } };
  }
}
