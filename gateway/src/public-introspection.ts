import {
  HeaderMap,
  type ApolloServerPlugin,
  type BaseContext,
  type HTTPGraphQLRequest,
} from '@apollo/server';
import { GRAPHQL_PATH } from '@gatehouse/service';
import {
  execute,
  GraphQLError,
  Kind,
  parse,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { GatewayErrorCode } from './error-codes';
import { mergeRealtimeSubscription } from './public-schema';

/**
 * The realtime `Subscription` type in the gateway's HTTP introspection, and a clear refusal for subscriptions
 * sent over HTTP. @apollo/gateway serves only the supergraph's API schema over HTTP; subscriptions are served by
 * the gateway's graphql-ws server (realtime/) on the WebSocket of the same path. Without this, the playground
 * and every code generator reading introspection would not know `sessionEvents` and the others exist.
 */

/** The root fields of an introspection query (`__typename` is allowed next to them). */
const INTROSPECTION_FIELDS: ReadonlySet<string> = new Set(['__schema', '__type', '__typename']);

/** Whether `operation` is a query that selects only introspection fields at its root. */
export function isIntrospectionOnly(operation: OperationDefinitionNode): boolean {
  if (operation.operation !== 'query') return false;
  const { selections } = operation.selectionSet;
  return (
    selections.length > 0 &&
    selections.some((s) => s.kind === Kind.FIELD && s.name.value !== '__typename') &&
    selections.every((s) => s.kind === Kind.FIELD && INTROSPECTION_FIELDS.has(s.name.value))
  );
}

/**
 * Answers introspection-only queries from the public schema (API schema plus the realtime Subscription type)
 * instead of the gateway's executor. Install only where introspection is allowed (development): production
 * refuses introspection before any plugin runs. Everything else executes through the gateway as before.
 */
export function publicIntrospectionPlugin<C extends BaseContext>(): ApolloServerPlugin<C> {
  // Rebuilt when the gateway loads or updates its schema (the supergraph is static today, so once).
  let publicSchema: GraphQLSchema | undefined;
  return {
    async serverWillStart() {
      return {
        schemaDidLoadOrUpdate({ apiSchema }) {
          publicSchema = mergeRealtimeSubscription(apiSchema);
        },
      };
    },
    async requestDidStart() {
      return {
        async responseForOperation({ operation, document, request, response }) {
          if (!publicSchema || !isIntrospectionOnly(operation)) return null;
          const result = await execute({
            schema: publicSchema,
            document,
            operationName: request.operationName ?? null,
            variableValues: request.variables ?? null,
          });
          // No data: a request error (a variable that does not coerce). Apollo's own path answers those with the
          // statuses the GraphQL-over-HTTP rule expects (graphql-over-http.ts), so leave the request to it.
          if (result.data === undefined || result.data === null) return null;
          return {
            http: response.http,
            body: {
              kind: 'single',
              singleResult: {
                data: result.data,
                ...(result.errors ? { errors: result.errors.map((error) => error.toJSON()) } : {}),
              },
            },
          };
        },
      };
    },
  };
}

/** The graphql-ws endpoint: the WebSocket upgrade of the GraphQL path. */
export const WEBSOCKET_PATH = GRAPHQL_PATH;

/** 400 SUBSCRIPTION_OVER_HTTP, naming the WebSocket endpoint (`extensions.http` is stripped from the body). */
export function subscriptionOverHttp(): GraphQLError {
  return new GraphQLError(
    `Subscriptions are not served over HTTP. Open a WebSocket to ${WEBSOCKET_PATH} on this host ` +
      '(ws:// or wss://) with the graphql-ws protocol (subprotocol graphql-transport-ws) and subscribe there.',
    {
      extensions: {
        code: GatewayErrorCode.SUBSCRIPTION_OVER_HTTP,
        details: { websocketPath: WEBSOCKET_PATH, protocol: 'graphql-transport-ws' },
        http: { status: 400, headers: new HeaderMap() },
      },
    },
  );
}

/** The `query` and `operationName` of one HTTP GraphQL request (GET search params or a JSON body). */
function requestsOf(request: HTTPGraphQLRequest): { query: unknown; operationName: unknown }[] {
  if (request.method === 'GET') {
    const params = new URLSearchParams(request.search);
    return [{ query: params.get('query'), operationName: params.get('operationName') ?? undefined }];
  }
  const body = request.body;
  const items = Array.isArray(body) ? body : [body];
  return items.map((item: unknown) => {
    const { query, operationName } = (typeof item === 'object' && item !== null ? item : {}) as {
      query?: unknown;
      operationName?: unknown;
    };
    return { query, operationName };
  });
}

/** The operation a request would execute: the named one, or the only one (undefined when neither). */
function selectedOperation(
  document: DocumentNode,
  operationName: unknown,
): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (typeof operationName === 'string' && operationName !== '') {
    return operations.find((o) => o.name?.value === operationName);
  }
  return operations.length === 1 ? operations[0] : undefined;
}

/**
 * The refusal for an HTTP request that would run a subscription, else undefined. Only documents that mention
 * `subscription` are parsed (once more than Apollo does); a document that does not parse is left to Apollo's
 * own error.
 */
export function subscriptionOverHttpRefusal(request: HTTPGraphQLRequest): GraphQLError | undefined {
  for (const { query, operationName } of requestsOf(request)) {
    if (typeof query !== 'string' || !query.includes('subscription')) continue;
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch {
      continue;
    }
    if (selectedOperation(document, operationName)?.operation === 'subscription')
      return subscriptionOverHttp();
  }
  return undefined;
}
