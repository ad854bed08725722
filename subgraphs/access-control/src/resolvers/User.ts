import type { UserResolvers } from '../generated/graphql';

export const User: UserResolvers = {
  // Identity owns users; this subgraph only needs the key, so resolving a reference costs no query.
  // `roles` loads through a DataLoader, batched across all references of the request.
  __resolveReference: (reference) => ({ id: reference.id }),
  roles: (user, _args, { roles }) => roles.ofUser(user.id),
  permissions: async (user, _args, { loaders }) =>
    (await loaders.permissionKeysByUserId.load(user.id)).map((row) => row.key),
};
