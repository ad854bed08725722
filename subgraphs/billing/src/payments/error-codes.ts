import { AppError, ConflictError, ErrorCode, NotFoundError } from '@gatehouse/errors';

/** Reasons payment errors carry as `extensions.details.reason`, next to `extensions.code`. Stable. */
export const PaymentErrorReason = {
  /** No such payment method for this user (code NOT_FOUND). */
  PAYMENT_METHOD_NOT_FOUND: 'PAYMENT_METHOD_NOT_FOUND',
  /** The only payment method of a live subscription (code PAYMENT_METHOD_IN_USE). */
  PAYMENT_METHOD_IN_USE: 'PAYMENT_METHOD_IN_USE',
  /** No such invoice (code NOT_FOUND). */
  INVOICE_NOT_FOUND: 'INVOICE_NOT_FOUND',
  /** The invoice is not OPEN (VOID, DRAFT, or PAID without a payment): nothing to collect (code CONFLICT). */
  INVOICE_NOT_PAYABLE: 'INVOICE_NOT_PAYABLE',
  /** The caller's idempotency key already names a payment of another invoice (code CONFLICT). */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
} as const;

export type PaymentErrorReason = (typeof PaymentErrorReason)[keyof typeof PaymentErrorReason];

/** Failure codes recorded on a payment when no provider call could be made. */
export const LocalFailureCode = {
  /** The user has no (usable) payment method or no provider customer. */
  PAYMENT_METHOD_REQUIRED: 'payment_method_required',
} as const;

export class PaymentMethodNotFoundError extends NotFoundError {
  constructor() {
    super('Payment method not found', { details: { reason: PaymentErrorReason.PAYMENT_METHOD_NOT_FOUND } });
  }
}

export class PaymentMethodInUseError extends AppError {
  constructor() {
    super(
      ErrorCode.PAYMENT_METHOD_IN_USE,
      'This is the only payment method of an active subscription; add another one first',
      { details: { reason: PaymentErrorReason.PAYMENT_METHOD_IN_USE } },
    );
  }
}

export class InvoiceNotFoundError extends NotFoundError {
  constructor() {
    super('Invoice not found', { details: { reason: PaymentErrorReason.INVOICE_NOT_FOUND } });
  }
}

export class InvoiceNotPayableError extends ConflictError {
  constructor(status: string) {
    super('The invoice cannot be paid', {
      details: { reason: PaymentErrorReason.INVOICE_NOT_PAYABLE, status },
    });
  }
}

export class IdempotencyKeyReusedError extends ConflictError {
  constructor() {
    super('The idempotency key was used for another invoice', {
      details: { reason: PaymentErrorReason.IDEMPOTENCY_KEY_REUSED },
    });
  }
}
