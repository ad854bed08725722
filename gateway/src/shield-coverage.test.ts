import { randomUUID } from 'node:crypto';
import { graphql, isObjectType, isUnionType, parse, type GraphQLError, type GraphQLSchema } from 'graphql';
import { AppError } from '@gatehouse/errors';
import { allow, deny, type PermissionMap } from '@gatehouse/service';
import { SUBGRAPHS } from './subgraphs';
import { OperationBuilder } from './testing/operations.test-support';
import {
  fieldsWithoutRules,
  guardedSubgraphSchema,
  isShieldRule,
  KIT_MANAGED_ROOT_FIELDS,
  staleRules,
  SUBGRAPH_PERMISSIONS,
} from './testing/shield-rules.test-support';

/**
 * Deny by default, made explicit: every subgraph's graphql-shield map names a rule for every root field one by one
 * and covers every object type, so no field is left to the fallback by accident; and it names nothing that does not
 * exist, so a renamed field cannot keep a rule that guards nothing. Runs without a database: CI fails here first.
 */
const subgraphs = SUBGRAPH_PERMISSIONS.map((subgraph) => ({
  ...subgraph,
  schema: guardedSubgraphSchema(subgraph),
}));

/** Executes against the guarded schema with no resolvers: only the shield stands between caller and data. */
async function execute(schema: GraphQLSchema, query: string, variables: Record<string, unknown> = {}) {
  // What BaseContext holds for an anonymous request; identity's rules also read `authenticatedUserIds`.
  const contextValue = { requestId: 'coverage', viewer: null, authenticatedUserIds: new Set<string>() };
  return graphql({ schema, source: query, variableValues: variables, contextValue });
}

/** The code clients would see: the kit's error formatter turns an AppError into `extensions.code`. */
function errorCode(error: GraphQLError): string | undefined {
  return error.originalError instanceof AppError ? error.originalError.code : undefined;
}

function entityTypeNames(schema: GraphQLSchema): string[] {
  const entity = schema.getType('_Entity');
  return isUnionType(entity) ? entity.getTypes().map((type) => type.name) : [];
}

it('checks every subgraph of the supergraph', () => {
  expect(SUBGRAPH_PERMISSIONS.map(({ name }) => name).sort()).toEqual(
    SUBGRAPHS.map(({ name }) => name).sort(),
  );
});

describe.each(subgraphs)('$name subgraph', ({ name, schema, permissions, typeDefs }) => {
  it('has a rule for every root field (one by one) and every field of every object type', () => {
    const missing = fieldsWithoutRules(schema, permissions);

    // The message lists every field at once, so one run tells the whole story.
    expect({ subgraph: name, missing }).toEqual({ subgraph: name, missing: [] });
  });

  it('has no rule for a type or field the schema does not have', () => {
    const stale = staleRules(schema, permissions);

    expect({ subgraph: name, stale }).toEqual({ subgraph: name, stale: [] });
  });

  it('leaves the federation fields to the service kit, which refuses a map that lists them', () => {
    const queryRules = permissions.Query;
    const listed = isShieldRule(queryRules) ? {} : (queryRules ?? {});
    for (const field of KIT_MANAGED_ROOT_FIELDS.Query ?? []) {
      const withField: PermissionMap = { ...permissions, Query: { ...listed, [field]: deny } };
      expect(() => guardedSubgraphSchema({ typeDefs, permissions: withField })).toThrow(
        `Query.${field} permissions are managed by the service kit`,
      );
    }
  });

  it('serves _service { sdl } to anyone: the gateway reads it without a token', async () => {
    const result = await execute(schema, '{ _service { sdl } }');

    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ _service: { sdl: expect.stringContaining('@key') } });
  });

  it('lets _entities through, yet guards every field of every entity by its own rule', async () => {
    const entityTypes = entityTypeNames(schema);
    expect(entityTypes.length).toBeGreaterThan(0);

    for (const typeName of entityTypes) {
      const type = schema.getType(typeName);
      if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
      const fields = Object.values(type.getFields());
      const builder = new OperationBuilder();
      const representations = builder.variable('[_Any!]!', [{ __typename: typeName, id: randomUUID() }]);
      const body = fields
        .map(
          (field, i) =>
            `f${i}: _entities(representations: ${representations}) { __typename ... on ${typeName} { ${builder.fieldWithLeaves(field)} } }`,
        )
        .join(' ');
      const operation = builder.build('query', body);

      const result = await execute(schema, operation.query, operation.variables);

      // `__typename` is never guarded, so the entity itself comes back: _entities passed the shield...
      const refused = fields.map((field, i) => {
        const entity = (result.data?.[`f${i}`] as Array<Record<string, unknown> | null> | undefined)?.[0];
        const errors = (result.errors ?? []).filter((error) => error.path?.[0] === `f${i}`);
        return {
          field: `${typeName}.${field.name}`,
          value: entity?.[field.name] ?? null,
          codes: [...new Set(errors.map(errorCode))],
        };
      });
      // ...but no field of it reaches an anonymous caller.
      expect(refused).toEqual(
        fields.map((field) => ({
          field: `${typeName}.${field.name}`,
          value: null,
          codes: ['UNAUTHENTICATED'],
        })),
      );
    }
  });
});

describe('the coverage checks themselves', () => {
  const typeDefs = parse(`
    type Query { listed: String, unlisted: String }
    type Mutation { act: Boolean }
    type Thing { covered: String, uncovered: String }
    type Open { a: String }
  `);
  const schema = guardedSubgraphSchema({ typeDefs, permissions: {} });

  it('name every field without a rule, and refuse wildcards on root types', () => {
    const permissions: PermissionMap = {
      Query: { listed: allow, '*': allow },
      Thing: { covered: allow },
      Open: allow,
    };

    expect(fieldsWithoutRules(schema, permissions)).toEqual([
      'Mutation.act: no rule',
      'Query.*: a wildcard on a root type; give each field its own rule',
      'Query.unlisted: no rule',
      'Thing.uncovered: no rule',
    ]);
    expect(
      fieldsWithoutRules(schema, { Query: allow, Mutation: { act: allow }, Thing: allow, Open: allow }),
    ).toEqual([
      'Query.listed: no rule',
      'Query.unlisted: no rule',
      'Query: a type-level rule on a root type; give each field its own rule',
    ]);
    expect(
      fieldsWithoutRules(schema, {
        ...permissions,
        Query: { listed: allow, unlisted: allow, _service: allow },
      }),
    ).toEqual([
      'Mutation.act: no rule',
      'Query._service: managed by the service kit, must not be in the map',
      'Thing.uncovered: no rule',
    ]);
  });

  it('name every rule for a type or field that does not exist', () => {
    const permissions: PermissionMap = {
      Query: { listed: allow, removed: allow },
      Ghost: allow,
      String: allow,
    };

    expect(staleRules(schema, permissions)).toEqual([
      'Ghost: no such type',
      'Query.removed: no such field',
      'String: not an object type, shield never consults this rule',
    ]);
  });
});
