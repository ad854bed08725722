import { AppError, ErrorCode, ServiceUnavailableError, ValidationError } from '@gatehouse/errors';

/** Reasons billing's payment errors carry as `extensions.details.reason`. Stable: clients switch on them. */
export const PaymentProviderErrorReason = {
  /** The provider could not be reached or failed (5xx, timeout) after the SDK's retries; try again later. */
  PAYMENT_PROVIDER_UNAVAILABLE: 'PAYMENT_PROVIDER_UNAVAILABLE',
  /** The provider refused the card when attaching it (declined, expired...). */
  PAYMENT_METHOD_DECLINED: 'PAYMENT_METHOD_DECLINED',
  /** The token is unknown to the provider, or belongs to someone else. */
  PAYMENT_METHOD_INVALID: 'PAYMENT_METHOD_INVALID',
} as const;

/** The provider is down or answered 5xx: nothing is known to have happened (retry with the same key). */
export class PaymentProviderUnavailableError extends ServiceUnavailableError {
  constructor(options: { cause?: unknown } = {}) {
    super('The payment provider is unavailable, try again later', {
      ...options,
      details: { reason: PaymentProviderErrorReason.PAYMENT_PROVIDER_UNAVAILABLE },
    });
  }
}

/** The card was refused by the provider while being saved (code PAYMENT_FAILED). */
export class PaymentMethodDeclinedError extends AppError {
  constructor(declineCode: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.PAYMENT_FAILED, 'The card was declined', {
      ...options,
      details: { reason: PaymentProviderErrorReason.PAYMENT_METHOD_DECLINED, declineCode },
    });
  }
}

/** A payment-method token the provider does not accept (code BAD_USER_INPUT). */
export class PaymentMethodInvalidError extends ValidationError {
  constructor(options: { cause?: unknown } = {}) {
    super('Unknown or unusable payment method token', {
      ...options,
      details: [{ path: 'token', message: PaymentProviderErrorReason.PAYMENT_METHOD_INVALID }],
    });
  }
}
