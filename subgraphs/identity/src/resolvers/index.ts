import { DateTimeScalar } from '@gatehouse/service';
import type { Resolvers } from '../generated/graphql';
import { LoginResult } from './LoginResult';
import { Mutation } from './Mutation';
import { Query } from './Query';
import { User } from './User';

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  LoginResult,
  Mutation,
  Query,
  User,
};
