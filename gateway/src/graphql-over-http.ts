import {
  HeaderMap,
  type ApolloServerPlugin,
  type BaseContext,
  type HTTPGraphQLRequest,
  type HTTPGraphQLResponse,
} from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError } from 'graphql';

/**
 * The status rule of the GraphQL-over-HTTP spec for `application/json` answers: a well-formed request that fails
 * as GraphQL — the document does not parse or validate, the operation name is not in it, a variable does not
 * coerce — is answered 200 with `{ errors }` (the "legacy" media type says nothing through the status).
 * Apollo answers these 400 whatever the client accepts; for `application/graphql-response+json` that is what
 * the spec wants, and it is kept.
 *
 * Everything else keeps its status: malformed HTTP (not JSON, no `query`: 400 BAD_REQUEST), and the
 * gateway's own refusals — 400 query limits and untrusted documents, 401, 403 CSRF, 413, 429, 503 — which are
 * policy, not GraphQL request errors, and carry their status in `extensions.http`.
 */

/** Apollo's codes for a GraphQL request error (spec: "request error") raised before execution. */
const REQUEST_ERROR_CODES: ReadonlySet<string> = new Set([
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
  ApolloServerErrorCode.BAD_USER_INPUT,
]);

/**
 * Whether Apollo raised `error` for the request itself. BAD_USER_INPUT is also the gateway's query-limit
 * refusal; only Apollo's variable-coercion error comes without an explicit HTTP status (Apollo gives it 400).
 */
function isGraphQLRequestError(error: GraphQLError): boolean {
  // Errors of an execution result from the gateway's executor may be plain objects without `extensions`.
  const extensions = error.extensions as GraphQLError['extensions'] | undefined;
  const code = extensions?.code;
  if (typeof code !== 'string' || !REQUEST_ERROR_CODES.has(code)) return false;
  return code !== ApolloServerErrorCode.BAD_USER_INPUT || extensions?.http === undefined;
}

/**
 * An operation name the document does not define (or none, for a document of several operations) is a request
 * error. Apollo Gateway's executor throws it as INVALID_GRAPHQL, which would be answered as a 500 internal error
 * (and logged as one); raised here, before execution, it is Apollo's own OPERATION_RESOLUTION_FAILURE, 400.
 */
function operationNotFound(operationName: string | undefined): GraphQLError {
  return new GraphQLError(
    operationName === undefined
      ? 'Must provide operation name if query contains multiple operations.'
      : `Unknown operation named "${operationName}".`,
    {
      extensions: {
        code: ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
        http: { status: 400, headers: new HeaderMap() },
      },
    },
  );
}

export interface GraphQLOverHttpStatus<C extends BaseContext> {
  /**
   * Refuses an operation name the document does not define, and notes requests whose every error is a GraphQL
   * request error (install it in the Apollo server).
   */
  readonly plugin: ApolloServerPlugin<C>;
  /** Applies the rule to Apollo's answer to `request`: 400 becomes 200 for a noted request answered as JSON. */
  apply(request: HTTPGraphQLRequest, response: HTTPGraphQLResponse): HTTPGraphQLResponse;
}

export function createGraphQLOverHttpStatus<C extends BaseContext>(): GraphQLOverHttpStatus<C> {
  // Keyed by the request object Apollo hands to the plugins as `request.http`; weak, so nothing is kept.
  const requestErrorsOnly = new WeakSet<HTTPGraphQLRequest>();
  return {
    plugin: {
      async requestDidStart() {
        return {
          async didResolveOperation({ operation, request }) {
            if (!operation) throw operationNotFound(request.operationName ?? undefined);
          },
          async willSendResponse({ request, errors }) {
            if (request.http && errors?.length && errors.every(isGraphQLRequestError)) {
              requestErrorsOnly.add(request.http);
            }
          },
        };
      },
    },
    apply(request, response) {
      if (response.status !== 400 || !requestErrorsOnly.has(request)) return response;
      // The media type Apollo negotiated from Accept (absent or `*/*`: application/json).
      const contentType = response.headers.get('content-type') ?? '';
      if (!/^application\/json\s*(;|$)/i.test(contentType)) return response;
      return { ...response, status: 200 };
    },
  };
}
