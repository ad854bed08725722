import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  Kind,
  parse,
  Source,
  validate,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { REPOSITORY_ROOT } from './subgraphs';

/**
 * The public operation documents (clients/operations/*.graphql) are the single source of every SDK: each must
 * validate against the committed public schema, together they must call every public root field, and their
 * names must be unique (an SDK method per operation name).
 */

const OPERATIONS_DIR = path.join(REPOSITORY_ROOT, 'clients', 'operations');
const SCHEMA_FILE = path.join(REPOSITORY_ROOT, 'clients', 'schema.graphql');

/** The files one per area; a new area is a deliberate change to this list. */
const AREA_FILES = [
  'access-control.graphql',
  'account.graphql',
  'admin.graphql',
  'billing.graphql',
  'fragments.graphql',
  'identity.graphql',
  'realtime.graphql',
];

/**
 * Root fields a retry could repeat a sign-in, an MFA step or money movement with: never `# @idempotent`,
 * whatever their shape (the SDKs retry marked mutations automatically).
 */
const NEVER_IDEMPOTENT = new Set([
  'login',
  'verifyMfa',
  'sendMfaCode',
  'refreshToken',
  'completeOAuthLogin',
  'enrollTotp',
  'confirmTotp',
  'enrollSmsMfa',
  'confirmSmsMfa',
  'enrollEmailMfa',
  'confirmEmailMfa',
  'sendMfaVerificationCode',
  'disableMfa',
  'regenerateBackupCodes',
  'subscribe',
  'changePlan',
  'cancelSubscription',
  'resumeSubscription',
  'addPaymentMethod',
  'removePaymentMethod',
  'setDefaultPaymentMethod',
  'recordUsage',
]);

interface LoadedFile {
  readonly name: string;
  readonly text: string;
  readonly document: DocumentNode;
}

function loadFiles(): LoadedFile[] {
  return readdirSync(OPERATIONS_DIR)
    .filter((name) => name.endsWith('.graphql'))
    .sort()
    .map((name) => {
      const text = readFileSync(path.join(OPERATIONS_DIR, name), 'utf8');
      return { name, text, document: parse(new Source(text, `clients/operations/${name}`)) };
    });
}

const schema = buildSchema(readFileSync(SCHEMA_FILE, 'utf8'));
const files = loadFiles();
const definitions = files.flatMap((file) => file.document.definitions);
const operations = definitions.filter(
  (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
);
const fragments = definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);

/** Root fields an operation selects, following fragment spreads and inline fragments at the root. */
function rootFieldsOf(selectionSet: SelectionSetNode): string[] {
  return selectionSet.selections.flatMap((selection) => {
    if (selection.kind === Kind.FIELD) return [(selection as FieldNode).name.value];
    if (selection.kind === Kind.INLINE_FRAGMENT) return rootFieldsOf(selection.selectionSet);
    const fragment = fragments.find((f) => f.name.value === selection.name.value);
    return fragment ? rootFieldsOf(fragment.selectionSet) : [];
  });
}

const ROOT_TYPES = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;

/** `# @idempotent` lines directly above an operation, by operation name. */
function idempotentMarks(): Map<string, { file: string; kind: string }> {
  const marks = new Map<string, { file: string; kind: string }>();
  for (const file of files) {
    for (const match of file.text.matchAll(
      /^# @idempotent\n(query|mutation|subscription|fragment)\s+(\w+)/gm,
    )) {
      marks.set(match[2]!, { file: file.name, kind: match[1]! });
    }
  }
  return marks;
}

describe('public operation documents (clients/operations)', () => {
  it('has one file per area', () => {
    expect(files.map((f) => f.name)).toEqual(AREA_FILES);
  });

  it('validates every document against clients/schema.graphql', () => {
    // All files as one document: fragments are shared across areas, as codegen sees them.
    const errors = validate(schema, { kind: Kind.DOCUMENT, definitions }).map((error) => error.toString());
    expect(errors).toEqual([]);
  });

  it('names every operation, uniquely across all files', () => {
    const names = operations.map((operation) => operation.name?.value);
    expect(names).not.toContain(undefined);
    const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
    expect(duplicates).toEqual([]);
    expect(operations.length).toBeGreaterThan(0);
  });

  it('calls every public root field (Query, Mutation, Subscription) in some operation', () => {
    const covered = new Set(
      operations.flatMap((operation) =>
        rootFieldsOf(operation.selectionSet).map((field) => `${ROOT_TYPES[operation.operation]}.${field}`),
      ),
    );
    const missing = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]
      .flatMap((type) => (type ? Object.keys(type.getFields()).map((field) => `${type.name}.${field}`) : []))
      .filter((field) => !covered.has(field));
    // On failure: add an operation for each listed field to the area's clients/operations/*.graphql.
    expect(missing).toEqual([]);
  });

  it('has exactly one root field per operation (one SDK method, one purpose)', () => {
    const several = operations
      .filter((operation) => rootFieldsOf(operation.selectionSet).length !== 1)
      .map((operation) => operation.name?.value);
    expect(several).toEqual([]);
  });

  it('marks only mutations as idempotent, and never a sign-in, MFA or payment mutation', () => {
    const marks = idempotentMarks();
    expect(marks.size).toBeGreaterThan(0);
    for (const [name, mark] of marks) {
      expect({ name, kind: mark.kind }).toEqual({ name, kind: 'mutation' });
      const operation = operations.find((o) => o.name?.value === name)!;
      const unsafe = rootFieldsOf(operation.selectionSet).filter((field) => NEVER_IDEMPOTENT.has(field));
      expect({ name, unsafe }).toEqual({ name, unsafe: [] });
    }
    // A mark elsewhere (not directly above an operation) would be silently ignored by the code generators.
    const written = files.reduce(
      (count, file) => count + (file.text.match(/^# @idempotent$/gm) ?? []).length,
      0,
    );
    expect(written).toBe(marks.size);
  });
});
