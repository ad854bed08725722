import { DateTimeScalar } from '@gatehouse/service';
import type { Resolvers } from '../generated/graphql';
import { BillingSubscription } from './BillingSubscription';
import { Query } from './Query';
import { SubscriptionPlan } from './SubscriptionPlan';
import { User } from './User';

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  BillingSubscription,
  Query,
  SubscriptionPlan,
  User,
};
