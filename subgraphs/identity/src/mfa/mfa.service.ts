/**
 * The MFA service, composed from its factors and steps: the sign-in challenge (mfa-challenge.ts), authenticator
 * apps (mfa-totp.ts), SMS and e-mail codes (mfa-sent-codes.ts), backup codes (mfa-backup-codes.ts), on the steps
 * they share (mfa-toolkit.ts). What applies to MFA as a whole (status, step-up, turning it off) stays here.
 */
import type { EnvelopeCipher, PasswordHasher } from '@gatehouse/crypto';
import type { EventBus } from '@gatehouse/events';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Mailer } from '@gatehouse/mail';
import { AuditAction, type AuditLog } from '../audit';
import type { LoginGuard } from '../credentials';
import type { AccountRepository } from '../users';
import type { ClientInfo } from '../client-info';
import type { SessionService } from '../sessions';
import { codeInvalid, mfaNotEnabled } from './errors';
import type { MfaRepository } from './mfa.repository';
import type {
  CodeDelivery,
  FactorConfirmation,
  MfaDeliveryMethod,
  MfaMethod,
  MfaStatus,
  PendingMfaChallenge,
  TotpEnrollment,
  VerifiedChallenge,
} from './mfa.types';
import { CODE_PURPOSES } from './one-time-codes';
import type { SmsSender } from './sms-sender';
import { MfaEventTopic } from './mfa.constants';
import { createBackupCodeSteps } from './mfa-backup-codes';
import { createChallengeSteps } from './mfa-challenge';
import { createSentCodeSteps } from './mfa-sent-codes';
import { createTotpSteps } from './mfa-totp';
import { createMfaToolkit, destinationOf, deviceOf, isWellFormedCode } from './mfa-toolkit';

export interface MfaService {
  /** Whether sign-in needs a second factor (users.mfa_enabled and at least one verified factor). */
  isRequired(userId: string): Promise<boolean>;
  /**
   * Stores a challenge for a sign-in that proved its first factor: an opaque token (32 bytes) of which only the
   * SHA-256 is the key, for `MFA_CHALLENGE_TTL_SECONDS`, with `context` (returned by `verifyChallenge`).
   * @throws AppError MFA_NOT_ENABLED without a verified factor, MFA_METHOD_UNAVAILABLE when none can be used
   * (SMS only, no SMS provider configured, no backup codes left).
   */
  createChallenge(userId: string, context: Record<string, string | null>): Promise<PendingMfaChallenge>;
  /**
   * Sends a six-digit code for the challenge by SMS or e-mail (replacing an earlier one).
   * @throws AuthenticationError MFA_CHALLENGE_INVALID; AppError MFA_METHOD_UNAVAILABLE; MfaRateLimitError
   * MFA_CODE_SEND_LIMIT (more than 3 sends per user in 5 minutes); SmsUnavailableError SMS_UNAVAILABLE.
   */
  sendChallengeCode(mfaToken: string, method: MfaDeliveryMethod, client: ClientInfo): Promise<CodeDelivery>;
  /**
   * Checks a TOTP code, a sent SMS/e-mail code or a backup code. Every attempt is counted before the code is
   * compared (atomically: concurrency cannot exceed the limits), per challenge (the 5th wrong one destroys it) and
   * per account in PostgreSQL, apart from the password's failures (`security.lockout`'s limits: the last wrong
   * code allowed locks the account, audited and mailed like a password lock; only a passed second factor or a
   * lock clears that count, never a correct password). Success consumes the challenge (single use) and clears the
   * account's failed sign-ins and second-factor attempts.
   * @throws AuthenticationError MFA_CHALLENGE_INVALID (expired, unknown, used or destroyed: sign in again),
   * also while the account is locked (the challenge is destroyed, the lock not told apart), and MFA_CODE_INVALID /
   * MFA_CODE_REUSED with `details.attemptsRemaining`; AppError BAD_USER_INPUT MFA_CODE_INVALID for input that
   * cannot be a code (not six digits nor a backup code), which is not counted.
   */
  verifyChallenge(mfaToken: string, code: string, client: ClientInfo): Promise<VerifiedChallenge>;
  status(userId: string): Promise<MfaStatus>;
  /**
   * Starts setting up an authenticator app: a new secret, stored encrypted and inactive until confirmed
   * (replacing an unconfirmed one). @throws ConflictError MFA_ALREADY_ENROLLED.
   */
  /**
   * Step-up before adding a factor: an account with a password must present it (wrong: counted toward the
   * lockout), so a stolen access token alone cannot put an attacker's factor on the account and lock the owner
   * out. Provider-only accounts have no password to ask for and pass.
   * @throws AuthenticationError (wrong or missing password, or a locked account).
   */
  reauthenticate(userId: string, password: string | null | undefined, client: ClientInfo): Promise<void>;
  enrollTotp(userId: string): Promise<TotpEnrollment>;
  /**
   * Activates the authenticator app with a code from it. The first verified factor turns MFA on and returns 10
   * fresh backup codes (shown once); later factors return null.
   * @throws AppError MFA_CODE_INVALID, MFA_ENROLLMENT_NOT_FOUND; ConflictError MFA_ALREADY_ENROLLED;
   * MfaRateLimitError MFA_TOO_MANY_ATTEMPTS.
   */
  confirmTotp(userId: string, code: string, client: ClientInfo): Promise<FactorConfirmation>;
  /**
   * Texts a code to `phoneNumber` (E.164; spaces, dots, hyphens and parentheses are ignored) to prove it.
   * @throws AppError PHONE_NUMBER_INVALID, MFA_METHOD_UNAVAILABLE (no SMS provider); ConflictError
   * MFA_ALREADY_ENROLLED; MfaRateLimitError MFA_CODE_SEND_LIMIT; SmsUnavailableError.
   */
  enrollSms(userId: string, phoneNumber: string, client: ClientInfo): Promise<CodeDelivery>;
  /** Like {@link confirmTotp}, with the texted code. */
  confirmSms(userId: string, code: string, client: ClientInfo): Promise<FactorConfirmation>;
  /** Mails a code to the account's address to prove it. Errors as {@link enrollSms}. */
  enrollEmail(userId: string, client: ClientInfo): Promise<CodeDelivery>;
  /** Like {@link confirmTotp}, with the mailed code. */
  confirmEmail(userId: string, code: string, client: ClientInfo): Promise<FactorConfirmation>;
  /**
   * Sends a code by an enrolled SMS/e-mail factor for a signed-in user to confirm a change with (`disable`).
   * @throws as {@link sendChallengeCode}, and MFA_NOT_ENABLED.
   */
  sendVerificationCode(userId: string, method: MfaDeliveryMethod, client: ClientInfo): Promise<CodeDelivery>;
  /**
   * Replaces every backup code with 10 new ones (shown once). A wrong password counts toward the lockout.
   * @throws AppError INVALID_CREDENTIALS (wrong password, or the account is locked), MFA_NOT_ENABLED,
   * PASSWORD_NOT_SET (an account that signs in through a provider only).
   */
  regenerateBackupCodes(userId: string, password: string, client: ClientInfo): Promise<string[]>;
  /**
   * Turns MFA off: needs the current password (none for a provider-only account) AND a valid code of any method
   * (a backup code too). Deletes factors and backup codes, clears users.mfa_enabled, signs out the user's other
   * sessions (reason MFA_CHANGED) and mails 'mfa-disabled'.
   * @throws AppError INVALID_CREDENTIALS, MFA_CODE_INVALID / MFA_CODE_REUSED, MFA_NOT_ENABLED; MfaRateLimitError
   * MFA_TOO_MANY_ATTEMPTS.
   */
  disable(
    userId: string,
    currentSessionId: string | null,
    password: string,
    code: string,
    client: ClientInfo,
  ): Promise<void>;
}

/** Dependencies and settings of {@link createMfaService}. */
export interface MfaServiceOptions {
  /** Factors, backup codes and `users.mfa_enabled` (the only database access of MFA). */
  repository: MfaRepository;
  /** Challenges, sent codes and rate-limit counters (Redis in production: shared by every replica). */
  kv: KeyValueStore;
  events: EventBus;
  mailer: Pick<Mailer, 'send'>;
  /** Encrypts TOTP secrets at rest (bound to the factor id). */
  cipher: EnvelopeCipher;
  accounts: AccountRepository;
  hasher: PasswordHasher;
  guard: LoginGuard;
  audit: AuditLog;
  sessions: Pick<SessionService, 'revokeOtherSessions'>;
  /** Null: SMS is not offered (SMS_PROVIDER=none). */
  sms: SmsSender | null;
  /** Shown by authenticator apps (MFA_ISSUER) and in texts. */
  issuer: string;
  /** Base of links in mail (PUBLIC_URL); without it mails carry no buttons. */
  publicUrl?: string;
  now?: () => Date;
  /** Receives failures of best-effort work (events, notification mails). */
  logger?: { warn(details: object, message: string): void };
}

/**
 * Multi-factor authentication: TOTP authenticator apps, SMS and e-mail codes, backup codes, and the sign-in
 * challenge between a proven password and issued tokens. Postgres holds factors, backup codes and
 * users.mfa_enabled; the key/value store holds what is short-lived (challenges, sent codes, counters).
 */
export function createMfaService(options: MfaServiceOptions): MfaService {
  const toolkit = createMfaToolkit(options);
  const {
    mailer,
    sessions,
    now,
    repository,
    codes,
    requireAccount,
    publish,
    securityEvent,
    record,
    mailBestEffort,
    nameOf,
    link,
    reserveCodeAttempt,
    checkCode,
    checkPassword,
  } = toolkit;
  const backupCodes = createBackupCodeSteps(toolkit);
  const { regenerateBackupCodes } = backupCodes;

  return {
    async isRequired(userId) {
      const state = await repository.state(userId);
      return state.mfaEnabled && state.factors.length > 0;
    },

    ...createChallengeSteps(toolkit, backupCodes),

    async status(userId) {
      const state = await repository.state(userId);
      return {
        enabled: state.mfaEnabled && state.factors.length > 0,
        factors: state.factors.map((factor) => ({
          id: factor.id,
          type: factor.type,
          label: factor.label,
          destination: destinationOf(factor),
          verifiedAt: factor.verifiedAt,
          lastUsedAt: factor.lastUsedAt,
        })),
        backupCodesRemaining: state.backupCodesRemaining,
      };
    },

    async reauthenticate(userId, password, client) {
      const account = await requireAccount(userId);
      if (!account.passwordHash) return;
      await checkPassword(account, password ?? '', client, AuditAction.MFA_FACTOR_ENROLLED);
    },

    ...createTotpSteps(toolkit),
    ...createSentCodeSteps(toolkit),
    regenerateBackupCodes,

    async disable(userId, currentSessionId, password, code, client) {
      const account = await requireAccount(userId);
      const state = await repository.state(userId);
      if (!state.mfaEnabled) throw mfaNotEnabled();
      if (!isWellFormedCode(code, true)) throw codeInvalid();
      const giveBack = await reserveCodeAttempt(userId);
      // A provider-only account has no password; the code alone proves the second factor then.
      if (account.passwordHash) {
        // A wrong password counts toward the lockout, not as a wrong code (its code was never checked).
        await checkPassword(account, password, client, AuditAction.MFA_DISABLED).catch(async (error) => {
          await giveBack();
          throw error;
        });
      }
      const methods: MfaMethod[] = [...state.factors.map((factor) => factor.type), 'BACKUP_CODE'];
      const outcome = await checkCode(userId, code, {
        purpose: 'verify',
        methods,
        state,
      });
      if (!outcome.ok) {
        await record(AuditAction.MFA_DISABLED, 'FAILURE', userId, client, { reason: outcome.reason });
        throw codeInvalid(outcome.reason);
      }
      await giveBack();

      await repository.disable(userId);
      await Promise.all(CODE_PURPOSES.map((purpose) => codes.discard(userId, purpose)));
      const sessionsRevoked = await sessions.revokeOtherSessions(userId, currentSessionId, 'MFA_CHANGED');
      await record(AuditAction.MFA_DISABLED, 'SUCCESS', userId, client, {
        method: outcome.method,
        sessionsRevoked,
        keptSessionId: currentSessionId,
      });
      await publish(MfaEventTopic.MFA_DISABLED, securityEvent(userId, outcome.method, client));
      const resetUrl = link('/forgot-password');
      const device = deviceOf(client);
      await mailBestEffort(
        () =>
          mailer.send({
            to: account.email,
            template: 'mfa-disabled',
            userId,
            data: {
              ...nameOf(account),
              at: now(),
              ...(client.ip ? { ip: client.ip } : {}),
              ...(device ? { device } : {}),
              ...(resetUrl ? { resetUrl } : {}),
            },
          }),
        'mfa-disabled',
        userId,
      );
    },
  };
}
