import {
  AppError,
  AuthenticationError,
  ConflictError,
  ErrorCode,
  NotFoundError,
  RateLimitError,
} from '@gatehouse/errors';
import { MfaErrorCode } from './error-codes';

/**
 * A rate limit with a reason: `details` is `{ reason, retryAfterSeconds }` (the plain RateLimitError only carries
 * `retryAfterSeconds`), so clients can tell "too many codes sent" from "too many wrong codes".
 */
export class MfaRateLimitError extends RateLimitError {
  declare readonly details: { reason: MfaErrorCode; retryAfterSeconds: number };

  constructor(reason: MfaErrorCode, message: string, retryAfterSeconds: number) {
    super(message, { retryAfterSeconds });
    this.details = { reason, retryAfterSeconds };
  }
}

/** The sign-in must start again: unknown, expired, used or destroyed MFA token. */
export function challengeInvalid(message = 'The sign-in has expired; sign in again'): AuthenticationError {
  return new AuthenticationError(message, { details: { reason: MfaErrorCode.MFA_CHALLENGE_INVALID } });
}

/** A wrong code in a sign-in challenge; `attemptsRemaining` before the challenge is destroyed. */
export function challengeCodeInvalid(
  reason: typeof MfaErrorCode.MFA_CODE_INVALID | typeof MfaErrorCode.MFA_CODE_REUSED,
  attemptsRemaining: number,
): AuthenticationError {
  const message =
    reason === MfaErrorCode.MFA_CODE_REUSED
      ? 'This code was already used; wait for the next one'
      : 'The code is not correct';
  return new AuthenticationError(message, { details: { reason, attemptsRemaining } });
}

/** A wrong code from a signed-in user (confirming a factor, turning MFA off). */
export function codeInvalid(
  reason:
    | typeof MfaErrorCode.MFA_CODE_INVALID
    | typeof MfaErrorCode.MFA_CODE_REUSED = MfaErrorCode.MFA_CODE_INVALID,
): AppError {
  const message =
    reason === MfaErrorCode.MFA_CODE_REUSED
      ? 'This code was already used; wait for the next one'
      : 'The code is not correct';
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
}

/** The operation needs MFA to be on. */
export function mfaNotEnabled(): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, 'Two-step verification is not on for this account', {
    details: { reason: MfaErrorCode.MFA_NOT_ENABLED },
  });
}

/** The method is not enrolled, or not offered by this server. */
export function methodUnavailable(message = 'This verification method is not available'): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, {
    details: { reason: MfaErrorCode.MFA_METHOD_UNAVAILABLE },
  });
}

/** A factor of this kind is verified already. */
export function alreadyEnrolled(): ConflictError {
  return new ConflictError('This verification method is already set up', {
    details: { reason: MfaErrorCode.MFA_ALREADY_ENROLLED },
  });
}

/** Nothing pending to confirm: enroll again. */
export function enrollmentNotFound(): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, 'Start setting up this verification method again', {
    details: { reason: MfaErrorCode.MFA_ENROLLMENT_NOT_FOUND },
  });
}

/** A provider-only account cannot confirm a change with a password. */
export function passwordNotSet(): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, 'This account has no password to confirm the change with', {
    details: { reason: MfaErrorCode.PASSWORD_NOT_SET },
  });
}

/** The user id names no live account. */
export function accountNotFound(): NotFoundError {
  return new NotFoundError('Account not found', { details: { reason: MfaErrorCode.ACCOUNT_NOT_FOUND } });
}
