import { DateTimeScalar } from '@gatehouse/service';
import type { Resolvers } from '../generated/graphql';
import { BillingSubscription } from './BillingSubscription';
import { Invoice, InvoiceLine, PlanChange } from './Invoice';
import { Mutation } from './Mutation';
import { Query } from './Query';
import { SubscriptionPlan } from './SubscriptionPlan';
import { User } from './User';
import { WebhookEndpoint } from './WebhookEndpoint';

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  BillingSubscription,
  Invoice,
  InvoiceLine,
  Mutation,
  PlanChange,
  Query,
  SubscriptionPlan,
  User,
  WebhookEndpoint,
};
