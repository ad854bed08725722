import {
  GraphQLError,
  Kind,
  parse,
  validate,
  visit,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

/**
 * A document sent over the WebSocket may hold several operations, e.g. the playground's editor with queries next
 * to the subscription it runs. graphql-ws validates the whole document against the realtime schema, which has no
 * supergraph fields, so such a subscription would fail on its neighbours. This keeps the selected operation and
 * the fragments it uses (transitively), and validates only that.
 *
 * Returns undefined for a document of one operation, or one that does not parse (graphql-ws's own path answers
 * those as before), the reduced and validated document otherwise, or the validation errors.
 */
export function selectedOperationDocument(
  schema: GraphQLSchema,
  query: unknown,
  operationName: unknown,
): DocumentNode | readonly GraphQLError[] | undefined {
  if (typeof query !== 'string' || typeof operationName !== 'string' || operationName === '')
    return undefined;
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return undefined;
  }
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (operations.length < 2) return undefined;
  const operation = operations.find((o) => o.name?.value === operationName);
  if (!operation) return [new GraphQLError(`Unknown operation named "${operationName}".`)];

  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  const used = new Set<string>();
  const pending: (OperationDefinitionNode | FragmentDefinitionNode)[] = [operation];
  while (pending.length > 0) {
    visit(pending.pop()!, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        const fragment = fragments.get(name);
        if (used.has(name) || !fragment) return;
        used.add(name);
        pending.push(fragment);
      },
    });
  }
  const reduced: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [operation, ...[...used].map((name) => fragments.get(name)!)],
  };
  const errors = validate(schema, reduced);
  return errors.length > 0 ? errors : reduced;
}
