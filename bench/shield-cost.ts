/**
 * The cost of graphql-shield on a large list (issue #6): the same 1,000-item query executed in-process against the
 * same federation schema, once without a permission map (plain `buildSubgraphSchema`) and once through the kit's
 * deny-by-default shield with per-field rules (a cached contextual rule on the root, a per-object rule on every item,
 * `allow` on the leaves). HTTP and the database are left out on purpose: this isolates the middleware.
 */
import { performance } from 'node:perf_hooks';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, parse, type GraphQLSchema } from 'graphql';
import { rule } from 'graphql-shield';
import { allow, buildGuardedSubgraphSchema, isAuthenticated, type BaseContext } from '@gatehouse/service';

const ITEMS = 1_000;

const typeDefs = parse(`
  type Item { id: ID! name: String! ownerId: ID! price: Int! tags: [String!]! }
  type Query { items: [Item!]! }
`);
const items = Array.from({ length: ITEMS }, (_, i) => ({
  id: `item-${i}`,
  name: `Item ${i}`,
  ownerId: i % 2 === 0 ? 'viewer' : 'someone-else',
  price: i * 100,
  tags: ['a', 'b'],
}));
const resolvers = { Query: { items: () => items } };

/** A rule that reads the parent object, so shield cannot cache it per request: the expensive kind. */
const isVisibleItem = rule('isVisibleItem', { cache: 'no_cache' })(
  (parent: { price?: number }) => typeof parent.price === 'number',
);

const document = parse('{ items { id name ownerId price tags } }');
const context = (): BaseContext =>
  ({
    requestId: 'bench',
    viewer: { userId: 'viewer', roles: ['member'] },
    logger: { child: () => context().logger } as unknown as BaseContext['logger'],
  }) as BaseContext;

async function opsPerSecond(schema: GraphQLSchema, seconds: number): Promise<number> {
  // Warm-up, then count whole executions in the window.
  for (let i = 0; i < 20; i++) await execute({ schema, document, contextValue: context() });
  let runs = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const result = await execute({ schema, document, contextValue: context() });
    if (result.errors) throw new Error(`bench query failed: ${result.errors[0]?.message}`);
    runs += 1;
  }
  return runs / seconds;
}

export interface ShieldCost {
  items: number;
  withoutRulesPerSecond: number;
  withRulesPerSecond: number;
  /** with / without: 1 means free, 0.5 means shield halves the throughput of this query. */
  throughputRatio: number;
}

export async function measureShieldCost(seconds = 5): Promise<ShieldCost> {
  const plain = buildSubgraphSchema([{ typeDefs, resolvers }]);
  const guarded = buildGuardedSubgraphSchema({
    typeDefs,
    resolvers,
    permissions: { Query: { items: isAuthenticated }, Item: { '*': allow, price: isVisibleItem } },
  });
  const withoutRulesPerSecond = await opsPerSecond(plain, seconds);
  const withRulesPerSecond = await opsPerSecond(guarded, seconds);
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    items: ITEMS,
    withoutRulesPerSecond: round(withoutRulesPerSecond),
    withRulesPerSecond: round(withRulesPerSecond),
    throughputRatio: Math.round((withRulesPerSecond / withoutRulesPerSecond) * 1000) / 1000,
  };
}
