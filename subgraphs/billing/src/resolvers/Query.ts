import type { QueryResolvers } from '../generated/graphql';

export const Query: QueryResolvers = {
  plans: (_parent, _args, { plans }) => plans.catalog(),
};
