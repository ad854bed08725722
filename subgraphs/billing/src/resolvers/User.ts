import type { UserResolvers } from '../generated/graphql';

export const User: UserResolvers = {
  // Identity owns users; this subgraph only needs the key, so resolving a reference costs no query.
  // `subscription` loads through a DataLoader, batched across all references of the request.
  __resolveReference: (reference) => ({ id: reference.id }),
  subscription: (user, _args, { billing }) => billing.subscriptions.currentOf(user.id),
};
