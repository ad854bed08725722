import type { PlanInterval, SubscriptionStatus } from '@gatehouse/db';

/** A user as this subgraph knows it: only the key. Identity owns the user itself. */
export interface UserReference {
  id: string;
}

export interface PlanLimitModel {
  key: string;
  /** `null` means unlimited. */
  value: number | null;
}

export interface PlanModel {
  id: string;
  code: string;
  name: string;
  description: string | null;
  /** Minor units of `currency`. */
  priceAmount: number;
  currency: string;
  interval: PlanInterval;
  intervalCount: number;
  trialDays: number;
  features: string[];
  limits: PlanLimitModel[];
}

export interface SubscriptionModel {
  id: string;
  userId: string;
  planId: string;
  status: SubscriptionStatus;
  currentPeriodEnd: Date;
  cancelAtPeriodEnd: boolean;
  trialEndsAt: Date | null;
}
