// Issue #14: an impersonation session may look, not act. Every Mutation field of every subgraph is enumerated from
// its schema and called with an impersonation token's viewer: the service kit refuses each one before its own rule
// runs, unless the permission map marks it `allowedWhileImpersonating` (the reviewed allow-list below). A mutation
// added later is covered without anyone listing it.
import { randomUUID } from 'node:crypto';
import { graphql, parse, type GraphQLError, type GraphQLSchema } from 'graphql';
import { AppError } from '@gatehouse/errors';
import {
  allowedWhileImpersonating,
  buildGuardedSubgraphSchema,
  hasPermission,
  impersonationAllowance,
  isAuthenticated,
  type Viewer,
} from '@gatehouse/service';
import { OperationBuilder } from './testing/operations.test-support';
import { guardedSubgraphSchema, ruleFor, SUBGRAPH_PERMISSIONS } from './testing/shield-rules.test-support';

/** The reviewed allow-list: changing it is a security review, so the test names it. */
const ALLOWED_WHILE_IMPERSONATING = ['identity: Mutation.endImpersonation'];

const subgraphs = SUBGRAPH_PERMISSIONS.map((subgraph) => ({
  ...subgraph,
  schema: guardedSubgraphSchema(subgraph),
}));

const impersonation: Viewer = {
  userId: randomUUID(),
  email: 'impersonated@example.test',
  roles: ['member'],
  permissions: [],
  sessionId: randomUUID(),
  impersonatorUserId: randomUUID(),
};

/** Executes against the guarded schema with no resolvers: only the shield stands between caller and data. */
async function execute(
  schema: GraphQLSchema,
  query: string,
  variables: Record<string, unknown>,
  viewer: Viewer | null,
) {
  const contextValue = { requestId: 'impersonation', viewer, authenticatedUserIds: new Set<string>() };
  return graphql({ schema, source: query, variableValues: variables, contextValue });
}

function refusal(error: GraphQLError): string {
  const original = error.originalError;
  if (!(original instanceof AppError)) return `not an AppError: ${error.message}`;
  const reason = (original.details as { reason?: unknown } | undefined)?.reason;
  return `${original.code}${typeof reason === 'string' ? `/${reason}` : ''}`;
}

function mutationFields(schema: GraphQLSchema) {
  return Object.values(schema.getMutationType()?.getFields() ?? {});
}

it('allows only the reviewed mutations under impersonation, each with its reason', () => {
  const allowed = subgraphs.flatMap(({ name, schema, permissions }) =>
    mutationFields(schema)
      .filter((field) => impersonationAllowance(ruleFor(permissions, 'Mutation', field.name)))
      .map((field) => `${name}: Mutation.${field.name}`),
  );
  expect(allowed.sort()).toEqual([...ALLOWED_WHILE_IMPERSONATING].sort());
});

describe.each(subgraphs)('$name subgraph', ({ name, schema, permissions }) => {
  it('refuses every other Mutation field to an impersonation token (FORBIDDEN, IMPERSONATION_FORBIDDEN)', async () => {
    const fields = mutationFields(schema).filter(
      (field) => !impersonationAllowance(ruleFor(permissions, 'Mutation', field.name)),
    );
    const outcomes: { field: string; refusal: string }[] = [];
    for (const field of fields) {
      const builder = new OperationBuilder();
      const operation = builder.build('mutation', builder.minimalField(field));
      const result = await execute(schema, operation.query, operation.variables, impersonation);
      const errors = result.errors ?? [];
      outcomes.push({ field: field.name, refusal: errors.map(refusal).join(', ') || 'not refused' });
    }
    expect({ subgraph: name, outcomes }).toEqual({
      subgraph: name,
      outcomes: fields.map((field) => ({ field: field.name, refusal: 'FORBIDDEN/IMPERSONATION_FORBIDDEN' })),
    });
  });
});

it('names recordUsage and revokeOtherSessions among the refused (they burned quota and signed the user out)', async () => {
  const cases = [
    { subgraph: 'billing', query: 'mutation { recordUsage(metric: "api_calls", quantity: 1) { used } }' },
    { subgraph: 'identity', query: 'mutation { revokeOtherSessions }' },
    { subgraph: 'account', query: 'mutation { updateProfile(input: { displayName: "x" }) { __typename } }' },
  ];
  for (const { subgraph, query } of cases) {
    const { schema } = subgraphs.find(({ name }) => name === subgraph)!;
    const result = await execute(schema, query, {}, impersonation);
    expect({ query, refusals: (result.errors ?? []).map(refusal) }).toEqual({
      query,
      refusals: ['FORBIDDEN/IMPERSONATION_FORBIDDEN'],
    });
  }
});

describe('the service kit', () => {
  const typeDefs = parse(`
    type Query { ping: String }
    type Mutation { brandNew: String, openToAll: String, wayOut: String, gated: String }
  `);
  const schema = buildGuardedSubgraphSchema({
    typeDefs,
    resolvers: {
      Mutation: {
        brandNew: () => 'done',
        openToAll: () => 'done',
        wayOut: () => 'done',
        gated: () => 'done',
      },
    },
    permissions: {
      Mutation: {
        brandNew: isAuthenticated,
        openToAll: isAuthenticated,
        wayOut: allowedWhileImpersonating(isAuthenticated, 'test: ends nothing but itself'),
        gated: hasPermission('users:write'),
      },
    },
  });

  it('refuses a new mutation to an impersonation token by default, and lets marked ones through', async () => {
    const result = await execute(schema, 'mutation { brandNew wayOut gated }', {}, impersonation);
    expect(result.data).toEqual({ brandNew: null, wayOut: 'done', gated: null });
    expect(result.errors?.map((error) => [error.path?.[0], refusal(error)])).toEqual([
      ['brandNew', 'FORBIDDEN/IMPERSONATION_FORBIDDEN'],
      ['gated', 'FORBIDDEN/IMPERSONATION_FORBIDDEN'],
    ]);
  });

  it('changes nothing for ordinary tokens and anonymous callers', async () => {
    const { impersonatorUserId: _impersonator, ...ordinary } = impersonation;
    const signedIn = await execute(schema, 'mutation { brandNew wayOut }', {}, ordinary);
    expect(signedIn).toEqual({ data: { brandNew: 'done', wayOut: 'done' } });
    const anonymous = await execute(schema, 'mutation { openToAll }', {}, null);
    expect(anonymous.errors?.map(refusal)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses an allow-list entry without a reason', () => {
    expect(() => allowedWhileImpersonating(isAuthenticated, ' ')).toThrow(/say why/);
  });
});
