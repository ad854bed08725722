import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSchema, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import { REPOSITORY_ROOT } from './subgraphs';

/** clients/codegen/sdk-plugin.cjs, the generator of clients/typescript/src/generated/sdk.ts. */
type DocumentFile = { location: string; document: DocumentNode };
type SdkPlugin = (schema: GraphQLSchema, documents: DocumentFile[], config: Record<string, string>) => string;
const { plugin } = createRequire(__filename)(
  path.join(REPOSITORY_ROOT, 'clients/codegen/sdk-plugin.cjs'),
) as {
  plugin: SdkPlugin;
};

const schema = buildSchema(`
  type Query { me: String, user(id: ID!): String }
  type Mutation { logout(refreshToken: String): Boolean, login(email: String!): String }
  type Subscription { sessionEvents: String }
`);

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-sdk-plugin-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the plugin on one document file (it reads the file for the `# @idempotent` comments). */
async function generate(text: string): Promise<string> {
  const location = path.join(dir, 'operations.graphql');
  await writeFile(location, text);
  return plugin(schema, [{ location, document: parse(text) }], {});
}

describe('the SDK codegen plugin', () => {
  it('emits one method per operation over the transport, with the retry marks as written', async () => {
    const sdk = await generate(`
# @idempotent
mutation Logout($refreshToken: String) { logout(refreshToken: $refreshToken) }

# @idempotent
# (a comment between the mark and the operation voids the mark)
mutation Login($email: String!) { login(email: $email) }

query Me { me }
query User($id: ID!) { user(id: $id) }
subscription SessionEvents { sessionEvents }
`);

    expect(sdk).toContain("import type { OperationOptions, Transport } from '../transport.js';");
    expect(sdk).toContain("from './graphql.js';");
    expect(sdk).toContain(
      'logout: (variables?: LogoutMutationVariables, options?: OperationOptions): Promise<LogoutMutation> =>',
    );
    expect(sdk).toContain(
      "LogoutDocument, variables ?? {}, { operationName: 'Logout', kind: 'mutation', idempotent: true }, options)",
    );
    expect(sdk).toContain('login: (variables: LoginMutationVariables, options?: OperationOptions)');
    expect(sdk).toContain("{ operationName: 'Login', kind: 'mutation', idempotent: false }");
    expect(sdk).toContain('user: (variables: UserQueryVariables, options?: OperationOptions)');
    expect(sdk).toContain("{ operationName: 'Me', kind: 'query', idempotent: true }");
    expect(sdk).toContain(
      'subscribeSessionEvents: (variables?: SessionEventsSubscriptionVariables): AsyncIterable<SessionEventsSubscription>',
    );
    expect(sdk).toContain(
      'transport.subscribe<SessionEventsSubscription, SessionEventsSubscriptionVariables>(',
    );
    expect(sdk).toContain('export type Sdk = ReturnType<typeof createSdk>;');
    expect(sdk).toMatch(
      /export const OPERATIONS = \{\n {2}Login: \{ kind: 'mutation', idempotent: false \},\n/,
    );
    expect(sdk).toContain("  Logout: { kind: 'mutation', idempotent: true },");
  });

  it('refuses a retry mark on a query and an operation without a name', async () => {
    await expect(generate('# @idempotent\nquery Me { me }')).rejects.toThrow(
      /marks Me, which is not a mutation/,
    );
    await expect(generate('{ me }')).rejects.toThrow(/needs a name/);
  });
});
