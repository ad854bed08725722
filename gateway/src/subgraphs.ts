import path from 'node:path';

/**
 * The subgraphs of the supergraph, in composition order. `name` is the federation subgraph name (it becomes the
 * `join__Graph` value the gateway routes by) and the folder under `subgraphs/`. `defaultUrl` is only the routing URL
 * written into the committed supergraph; the gateway always routes to the URLs from its configuration
 * (IDENTITY_URL, ACCOUNT_URL, ACCESS_CONTROL_URL, BILLING_URL).
 */
export const SUBGRAPHS = [
  { name: 'identity', defaultUrl: 'http://127.0.0.1:4001/graphql' },
  { name: 'account', defaultUrl: 'http://127.0.0.1:4002/graphql' },
  { name: 'access-control', defaultUrl: 'http://127.0.0.1:4003/graphql' },
  { name: 'billing', defaultUrl: 'http://127.0.0.1:4004/graphql' },
] as const;

export type SubgraphName = (typeof SUBGRAPHS)[number]['name'];

/** The repository root, from either `gateway/src` (tsx, jest) or `gateway/dist` (built). */
export const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..');

/** The committed supergraph, at the gateway package root (one level above both `src/` and `dist/`). */
export const SUPERGRAPH_FILE = path.resolve(__dirname, '..', 'supergraph.graphql');
