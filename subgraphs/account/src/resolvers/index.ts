import type { Resolvers } from '../generated/graphql';
import { DateTimeScalar } from '@gatehouse/service';
import { Mutation } from './Mutation';
import { User } from './User';

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Mutation,
  User,
};
