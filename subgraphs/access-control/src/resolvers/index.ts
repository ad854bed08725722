import type { Resolvers } from '../generated/graphql';
import { Query } from './Query';
import { Role } from './Role';
import { User } from './User';

export const resolvers: Resolvers = {
  Query,
  Role,
  User,
};
