import type { PaymentStatus, Prisma } from '@gatehouse/db';
import type { BillingWriteUnit } from '../billing.repository';

/** A payment outcome, as the subscription lifecycle receives it. */
export interface PaymentEvent {
  paymentId: string;
  invoiceId: string;
  userId: string;
  /** Minor units. */
  amount: number;
  currency: string;
  /** 1 for the first attempt, 2..4 for dunning retries (more when the user pays by hand later). */
  attempt: number;
}

export interface PaymentFailedEvent extends PaymentEvent {
  /** No retry is scheduled (dunning exhausted, or the invoice is not retried: see `retryableBillingReasons`). */
  final: boolean;
  nextAttemptAt: Date | null;
  /** Provider decline/error code, e.g. `insufficient_funds`. */
  failureReason: string;
}

/**
 * Implemented by the subscriptions module. Called inside the write unit that records the payment outcome, so
 * the subscription change commits (or rolls back) with it.
 */
export interface PaymentListener {
  onPaymentSucceeded(event: PaymentEvent, unit: BillingWriteUnit): Promise<AfterCommit | void>;
  onPaymentFailed(event: PaymentFailedEvent, unit: BillingWriteUnit): Promise<AfterCommit | void>;
}

/** Work a listener wants done once the payment's transaction committed (events, mail); run with the effects. */
export type AfterCommit = () => Promise<void>;

/** What {@link PaymentsDeps.publish} receives: the shape outbound webhooks and the event bus take. */
export interface PaymentDomainEvent {
  /** Stable per transition (`payment.failed:<paymentId>:<attempt>`): publishing it twice delivers once. */
  id: string;
  type: 'payment.succeeded' | 'payment.failed' | 'payment.refunded';
  userId: string;
  /** JSON only (dates as ISO strings). */
  data: Prisma.InputJsonObject;
  createdAt: Date;
}

/** A mail to send after a failed attempt (the lead maps it to a template). */
export interface PaymentFailedNotice {
  template: 'payment-failed';
  userId: string;
  paymentId: string;
  invoiceId: string;
  amount: number;
  currency: string;
  attempt: number;
  final: boolean;
  nextAttemptAt: Date | null;
  failureReason: string;
}

export type PaymentNotice = PaymentFailedNotice;

/** A payment row as the API shows it. */
export interface PaymentView {
  id: string;
  userId: string;
  invoiceId: string | null;
  paymentMethodId: string | null;
  amount: number;
  currency: string;
  status: PaymentStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  failureCode: string | null;
  failureReason: string | null;
  providerPaymentId: string | null;
  succeededAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A saved card: never its number. */
export interface PaymentMethodView {
  id: string;
  userId: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
  isDefault: boolean;
  createdAt: Date;
}

/** Who acted and from where, for the audit trail (all optional; the user themself by default). */
export interface PaymentActor {
  impersonatorUserId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

/** The part of a pino logger this module uses. */
export interface PaymentsLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export type PaymentAuditAction =
  | 'PAYMENT_SUCCEEDED'
  | 'PAYMENT_FAILED'
  | 'PAYMENT_REFUNDED'
  | 'PAYMENT_PARTIALLY_REFUNDED'
  | 'PAYMENT_CANCELED'
  | 'PAYMENT_METHOD_ADDED'
  | 'PAYMENT_METHOD_DEFAULT_CHANGED'
  | 'PAYMENT_METHOD_REMOVED';
