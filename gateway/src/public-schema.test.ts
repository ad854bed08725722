import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildPublicSchema, mergeRealtimeSubscription, undocumentedElements } from './public-schema';
import { REPOSITORY_ROOT, SUPERGRAPH_FILE } from './subgraphs';

const PUBLIC_SCHEMA_FILE = path.join(REPOSITORY_ROOT, 'clients', 'schema.graphql');

describe('public API schema (clients/schema.graphql)', () => {
  let built: GraphQLSchema;

  beforeAll(async () => {
    built = await buildPublicSchema(await readFile(SUPERGRAPH_FILE, 'utf8'));
  });

  it('is the committed file (compared as schemas: the file is also Prettier-formatted)', async () => {
    const committed = buildSchema(await readFile(PUBLIC_SCHEMA_FILE, 'utf8'));
    // On failure: run `npm run schema:public` and commit clients/schema.graphql.
    expect(printSchema(committed)).toBe(printSchema(built));
  });

  it('has no federation internals and has the realtime Subscription root', () => {
    const names = Object.keys(built.getTypeMap());
    expect(names.filter((name) => /^(join__|link__|_Service$|_Entity$|_Any$)/.test(name))).toEqual([]);
    expect(built.getDirectives().map((d) => d.name)).not.toContain('join__field');
    expect(Object.keys(built.getSubscriptionType()?.getFields() ?? {}).sort()).toEqual([
      'auditEvents',
      'paymentEvents',
      'securityEvents',
      'sessionEvents',
    ]);
    // The realtime connection's own query root stays on the WebSocket.
    expect(built.getQueryType()?.getFields().connection).toBeUndefined();
    expect(built.getType('RealtimeConnection')).toBeUndefined();
  });

  it('documents every type, field, argument and enum value', () => {
    expect(undocumentedElements(built)).toEqual([]);
  });

  it('reports what is undocumented', () => {
    const schema = buildSchema('"Root." type Query { "Documented." a: Int b(x: Int): Int } enum E { V }');
    expect(undocumentedElements(schema)).toEqual(['E', 'E.V', 'Query.b', 'Query.b(x)']);
  });

  it('refuses a realtime type that conflicts with a supergraph type of the same name', () => {
    const api = buildSchema('type Query { a: Int } enum AuditOutcome { SUCCESS }');
    expect(() => mergeRealtimeSubscription(api)).toThrow(/AuditOutcome conflicts/);
    const compatible = buildSchema(
      'type Query { a: Int } enum AuditOutcome { FAILURE SUCCESS } scalar DateTime',
    );
    expect(mergeRealtimeSubscription(compatible).getSubscriptionType()?.name).toBe('Subscription');
  });
});
