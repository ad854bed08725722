import type { PlanInterval } from '@gatehouse/db';
import type { Logger } from '@gatehouse/logger';
import type { BillingStore, BillingWriteUnit } from '../billing.repository';
import type { SubscriptionModel } from '../models';
import type {
  LifecycleCharging,
  LifecycleInvoices,
  LifecyclePaymentMethods,
  SubscriptionEvent,
  SubscriptionNotice,
} from './ports';
import type { SubscriptionRepository } from './subscription.repository';

/** Who asked, for the audit trail. */
export interface BillingActor {
  actorUserId: string;
  impersonatorUserId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

/** What the payment module tells the lifecycle, inside the write unit that records a payment's outcome. */
export interface LifecyclePaymentEvent {
  invoiceId: string;
  userId: string;
}

export interface SubscriptionLifecycleOptions {
  /** The transactions a change runs in (subscription, invoice and payment writes together). */
  billing: BillingStore;
  subscriptions: SubscriptionRepository;
  invoices: LifecycleInvoices;
  charging: LifecycleCharging;
  paymentMethods: LifecyclePaymentMethods;
  /** Proration to the second (money/): credit for the unused part of the old price, charge for the new. */
  prorate(input: { oldPrice: number; newPrice: number; periodStart: Date; periodEnd: Date; at: Date }): {
    credit: number;
    charge: number;
  };
  /**
   * The end of a period that starts at `start`, counted from `anchor` (month-end clamping: a Jan 31 anchor renews
   * on Feb 28/29, then Mar 31), money/.
   */
  addPeriod(start: Date, interval: PlanInterval, count: number, anchor: Date): Date;
  /** Tax rate applied to new invoices, in basis points. Default 0. */
  taxRateBps?: number;
  publish(event: SubscriptionEvent): Promise<void>;
  notify(notice: SubscriptionNotice): Promise<void>;
  logger: Logger;
  now?: () => Date;
}

export interface PlanChangeResult {
  subscription: SubscriptionModel;
  invoiceId: string | null;
  creditAmount: number;
}

/** Work to do once the payment's transaction committed (it never runs for a rolled-back one). */
export type AfterCommit = () => Promise<void>;

export interface SubscriptionLifecycle {
  current(userId: string): Promise<SubscriptionModel | null>;
  subscribe(actor: BillingActor, planId: string, paymentMethodId?: string | null): Promise<SubscriptionModel>;
  changePlan(actor: BillingActor, planId: string): Promise<PlanChangeResult>;
  cancel(actor: BillingActor): Promise<SubscriptionModel>;
  resume(actor: BillingActor): Promise<SubscriptionModel>;
  /**
   * The renewal job: invoices and charges every subscription whose period ends within 24 h, and ends those
   * canceled at period end. Safe to run twice or concurrently: rows are claimed with SKIP LOCKED, renewal invoices
   * are keyed by (subscription, period start), and charging is idempotent per invoice.
   */
  renewDue(): Promise<{ renewed: number; ended: number; failed: number }>;
  /**
   * Payment outcomes, called by the payment module inside its write unit. What must wait for the commit (events,
   * mail) comes back as a function the payment module runs after it.
   */
  onPaymentSucceeded(event: LifecyclePaymentEvent, unit: BillingWriteUnit): Promise<AfterCommit | void>;
  onPaymentFailed(
    event: LifecyclePaymentEvent & { final: boolean; failureReason?: string },
    unit: BillingWriteUnit,
  ): Promise<AfterCommit | void>;
}
