import type { UserResolvers } from '../generated/graphql';

export const User: UserResolvers = {
  // Identity owns users; this subgraph only needs the key, so resolving a reference costs no query.
  // The fields below load through DataLoaders, batched across all references of the request.
  __resolveReference: (reference) => ({ id: reference.id }),
  profile: (user, _args, { profiles }) => profiles.ofUser(user.id),
};
