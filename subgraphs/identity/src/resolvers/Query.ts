import type { QueryResolvers } from '../generated/graphql';

export const Query: QueryResolvers = {
  me: (_parent, _args, { users }) => users.viewer(),
  user: (_parent, { id }, { users }) => users.byId(id),
};
