export {
  buildGuardedSubgraphSchema,
  createSubgraphApolloServer,
  type PermissionMap,
  type SubgraphApolloServerOptions,
} from './apollo';
export {
  bearerTokenFrom,
  createAccessTokenSigner,
  createAccessTokenVerifier,
  type AccessTokenSigner,
  type AccessTokenSignerOptions,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type SignAccessTokenOptions,
  type Viewer,
} from './auth';
export { buildBaseContext, type BaseContext, type BuildBaseContextInput } from './context';
export {
  GRAPHQL_PATH,
  startHttpService,
  type GraphQLEndpoint,
  type HttpService,
  type HttpServiceOptions,
  type ReadinessCheck,
  type RouteHandler,
} from './http-server';
export { DEFAULT_MAX_BATCH_SIZE, groupedLoaderByKey, loaderByKey, type LoaderOptions } from './loaders';
export {
  ADMIN_ROLE,
  allow,
  and,
  deny,
  isAdmin,
  isAuthenticated,
  isSelf,
  isSelfOrAdmin,
  not,
  or,
} from './rules';
export { DateTimeScalar } from './scalars';
export { isUuid } from './ids';
export { runService, stopOnSignals } from './lifecycle';
export {
  startSubgraph,
  type RunningSubgraph,
  type StartSubgraphOptions,
  type SubgraphEnvPrefix,
} from './run-subgraph';
export {
  createSubgraphApp,
  type SubgraphApp,
  type SubgraphAppDependencies,
  type SubgraphAppOptions,
} from './subgraph-app';
export { generateRsaKeyPair, postGraphQL, type GraphQLTestResponse } from './testing';
