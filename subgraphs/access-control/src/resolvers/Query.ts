import type { QueryResolvers } from '../generated/graphql';

export const Query: QueryResolvers = {
  roles: (_parent, _args, { roles }) => roles.all(),
};
