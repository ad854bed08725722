import type { MfaMethod } from './mfa.types';

/** Topics this module publishes on the event bus; payload {@link MfaSecurityEvent}. */
export const MfaEventTopic = {
  /** The first factor was verified: sign-in now needs a second step. */
  MFA_ENABLED: 'security.mfa_enabled',
  /** Every factor and backup code was removed. */
  MFA_DISABLED: 'security.mfa_disabled',
  /** A factor was verified (the first one also publishes MFA_ENABLED). */
  MFA_FACTOR_ENROLLED: 'security.mfa_factor_enrolled',
  /** A wrong code was given for a sign-in challenge. */
  MFA_CHALLENGE_FAILED: 'security.mfa_challenge_failed',
  /** A backup code was used to sign in. */
  BACKUP_CODE_USED: 'security.backup_code_used',
  BACKUP_CODES_REGENERATED: 'security.backup_codes_regenerated',
} as const;

/** One of the {@link MfaEventTopic} values. */
export type MfaEventTopic = (typeof MfaEventTopic)[keyof typeof MfaEventTopic];

/** What every MFA security event carries. Never a code, a secret or a token. */
export interface MfaSecurityEvent {
  userId: string;
  /** The method involved, when there is one. */
  method: MfaMethod | null;
  ip: string | null;
  userAgent: string | null;
  /** ISO 8601. */
  at: string;
  /** MFA_CHALLENGE_FAILED: the reason (MFA_CODE_INVALID, MFA_CODE_REUSED) and the failures of this challenge. */
  reason?: string;
  failures?: number;
  /** BACKUP_CODE_USED: unused backup codes left. */
  backupCodesRemaining?: number;
}

/** Sign-in challenges live this long. */
export const MFA_CHALLENGE_TTL_SECONDS = 300;
/**
 * Codes checked per sign-in challenge; the last one wrong destroys it. Each is also one of the account's
 * second-factor attempts (`security.lockout`: the last one allowed locks the account), counted before the check.
 */
export const MFA_CHALLENGE_MAX_FAILURES = 5;
/** SMS and e-mail codes work this long. */
export const MFA_CODE_TTL_SECONDS = 300;
/** Codes sent per user per {@link MFA_CODE_SEND_WINDOW_SECONDS}. */
export const MFA_CODE_MAX_SENDS = 3;
/** The fixed window of the send limit. */
export const MFA_CODE_SEND_WINDOW_SECONDS = 300;
/** Wrong codes while confirming a factor or turning MFA off, per user per window. */
export const MFA_MAX_WRONG_CODES = 5;
/** The fixed window of {@link MFA_MAX_WRONG_CODES}. */
export const MFA_WRONG_CODE_WINDOW_SECONDS = 900;
/** A backup code sign-in that leaves this many or fewer mails the owner. */
export const BACKUP_CODES_LOW_THRESHOLD = 2;
