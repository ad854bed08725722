import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { generateToken, hashToken, type EnvelopeCipher, type PasswordHasher } from '@gatehouse/crypto';
import type { PrismaClient } from '@gatehouse/db';
import type { EventBus } from '@gatehouse/events';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Mailer } from '@gatehouse/mail';
import { AuditAction, type AuditLog, type AuditMetadataValue } from '../audit';
import { CredentialErrorCode, type LoginGuard } from '../credentials';
import { createCurrentPasswordCheck } from '../services/current-password';
import type { AccountRecord, AccountRepository } from '../repositories/account.repository';
import type { ClientInfo } from '../services/client-info';
import { auditClientFields, reportLock } from '../services/wrong-password';
import { parseUserAgent, type SessionService } from '../sessions';
import { BACKUP_CODE_COUNT, generateBackupCodes, hashBackupCode, normalizeBackupCode } from './backup-codes';
import { maskEmail, maskPhoneNumber, normalizePhoneNumber } from './destination';
import { MfaErrorCode } from './error-codes';
import {
  MfaRateLimitError,
  accountNotFound,
  alreadyEnrolled,
  challengeCodeInvalid,
  challengeInvalid,
  codeInvalid,
  enrollmentNotFound,
  methodUnavailable,
  mfaNotEnabled,
  passwordNotSet,
} from './errors';
import {
  createMfaRepository,
  type MfaFactorRecord,
  type MfaRepository,
  type MfaState,
} from './mfa.repository';
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
import { CODE_PURPOSES, createOneTimeCodeStore, type CodePurpose } from './one-time-codes';
import { phoneNumberInvalid, type SmsSender } from './sms-sender';
import { generateTotpSecret, matchTotpStep, qrCodeDataUrl, totpKeyUri } from './totp';

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

export interface MfaService {
  /** Whether sign-in needs a second factor (users.mfa_enabled and at least one verified factor). */
  isRequired(userId: string): Promise<boolean>;
  /**
   * Stores a challenge for a sign-in that proved its first factor: an opaque token (32 bytes) of which only the
   * SHA-256 is the key, for {@link MFA_CHALLENGE_TTL_SECONDS}, with `context` (returned by `verifyChallenge`).
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
  prisma: PrismaClient;
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

/** generateToken(32): 43 base64url characters; anything else is refused without a lookup. */
const MFA_TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
/** Six digits; spaces people type between the groups are ignored. */
const sixDigitCode = z
  .string()
  .max(32)
  .transform((value) => value.replace(/\s/g, ''))
  .pipe(z.string().regex(/^\d{6}$/));
/**
 * Whether `code` could be a code at all: six digits, or (where backup codes count) a backup code. Anything else
 * is refused without being counted as a guess: it can never be right, so counting it would only punish typos.
 */
function isWellFormedCode(code: unknown, backupCodes: boolean): code is string {
  if (typeof code !== 'string') return false;
  return sixDigitCode.safeParse(code).success || (backupCodes && normalizeBackupCode(code) !== null);
}

/** Bounds what a caller can park in the key/value store with a challenge. */
const challengeContext = z.record(z.string().max(64), z.string().max(1024).nullable());
const MAX_CONTEXT_ENTRIES = 16;

const METHOD_ORDER: readonly MfaMethod[] = ['TOTP', 'SMS', 'EMAIL', 'BACKUP_CODE'];

interface StoredChallenge {
  userId: string;
  methods: MfaMethod[];
  context: Record<string, string | null>;
  /** ISO 8601, checked against the service clock. */
  expiresAt: string;
}

/** How a code was checked: passed by `method`, or refused with a reason. */
type CodeOutcome =
  | { ok: true; method: MfaMethod; backupCode: { id: string; remaining: number } | null }
  | { ok: false; reason: typeof MfaErrorCode.MFA_CODE_INVALID | typeof MfaErrorCode.MFA_CODE_REUSED };

const challengeKey = (tokenHash: string) => `mfa:challenge:${tokenHash}`;
const challengeFailuresKey = (tokenHash: string) => `mfa:challenge-failures:${tokenHash}`;
const wrongCodesKey = (userId: string) => `mfa:wrong-codes:${userId}`;
/** The secret's envelope is bound to its row: copied into another factor it does not decrypt. */
const secretAad = (factorId: string) => `mfa-factor:${factorId}`;

function describeMethod(factor: Pick<MfaFactorRecord, 'type' | 'phoneNumber' | 'email'>): string {
  switch (factor.type) {
    case 'TOTP':
      return 'an authenticator app';
    case 'SMS':
      return `text messages to ${maskPhoneNumber(factor.phoneNumber ?? '')}`;
    case 'EMAIL':
      return `codes mailed to ${maskEmail(factor.email ?? '')}`;
  }
}

function destinationOf(factor: MfaFactorRecord): string | null {
  if (factor.type === 'SMS' && factor.phoneNumber) return maskPhoneNumber(factor.phoneNumber);
  if (factor.type === 'EMAIL' && factor.email) return maskEmail(factor.email);
  return null;
}

/** `Firefox 120 on Linux`, for mails about changes. */
function deviceOf(client: ClientInfo): string | undefined {
  const { browser, os } = parseUserAgent(client.userAgent);
  return [browser, os].filter(Boolean).join(' on ') || undefined;
}

/**
 * Multi-factor authentication: TOTP authenticator apps, SMS and e-mail codes, backup codes, and the sign-in
 * challenge between a proven password and issued tokens. Postgres holds factors, backup codes and
 * users.mfa_enabled; the key/value store holds what is short-lived (challenges, sent codes, counters).
 */
export function createMfaService(options: MfaServiceOptions): MfaService {
  const { kv, events, mailer, cipher, accounts, hasher, guard, audit, sessions, sms, issuer, logger } =
    options;
  const now = options.now ?? (() => new Date());
  const publicUrl = options.publicUrl?.replace(/\/+$/, '');
  const repository: MfaRepository = createMfaRepository(options.prisma);
  const codes = createOneTimeCodeStore({
    kv,
    now,
    ttlSeconds: MFA_CODE_TTL_SECONDS,
    maxSends: MFA_CODE_MAX_SENDS,
    sendWindowSeconds: MFA_CODE_SEND_WINDOW_SECONDS,
  });
  const wrongCodeDependencies = { audit, mailer };

  // ---- helpers ---------------------------------------------------------------------------------------------

  async function requireAccount(userId: string): Promise<AccountRecord> {
    const account = await accounts.findById(userId);
    if (!account) throw accountNotFound();
    return account;
  }

  async function publish(topic: MfaEventTopic, event: MfaSecurityEvent): Promise<void> {
    try {
      await events.publish(topic, event);
    } catch (err) {
      logger?.warn({ err, topic, userId: event.userId }, 'mfa: could not publish a security event');
    }
  }

  function securityEvent(
    userId: string,
    method: MfaMethod | null,
    client: ClientInfo,
    extra: Partial<MfaSecurityEvent> = {},
  ): MfaSecurityEvent {
    return {
      userId,
      method,
      ip: client.ip,
      userAgent: client.userAgent,
      at: now().toISOString(),
      ...extra,
    };
  }

  async function record(
    action: AuditAction,
    outcome: 'SUCCESS' | 'FAILURE',
    userId: string,
    client: ClientInfo,
    metadata: Record<string, AuditMetadataValue | undefined> = {},
  ): Promise<void> {
    await audit.record({
      action,
      outcome,
      actorUserId: userId,
      targetType: 'User',
      targetId: userId,
      ...auditClientFields(client),
      metadata,
    });
  }

  /** Notification mails never fail the change they are about (which is done and audited by then). */
  async function mailBestEffort(send: () => Promise<unknown>, what: string, userId: string): Promise<void> {
    try {
      await send();
    } catch (err) {
      logger?.warn({ err, userId }, `mfa: could not send the ${what} mail`);
    }
  }

  const nameOf = (account: AccountRecord) => (account.displayName ? { name: account.displayName } : {});
  const link = (path: string) => (publicUrl ? `${publicUrl}${path}` : undefined);

  function decryptSecret(factor: MfaFactorRecord): string {
    if (!factor.secretEncrypted) throw new Error(`TOTP factor ${factor.id} has no secret`);
    return cipher.decrypt(factor.secretEncrypted, secretAad(factor.id)).toString('utf8');
  }

  function usableMethods(state: MfaState): MfaMethod[] {
    const methods = new Set<MfaMethod>();
    for (const factor of state.factors) {
      if (factor.type === 'SMS' && !sms) continue;
      methods.add(factor.type);
    }
    // Backup codes work whatever else is available: they are the way back in when a phone or app is gone.
    if (state.factors.length > 0 && state.backupCodesRemaining > 0) methods.add('BACKUP_CODE');
    return METHOD_ORDER.filter((method) => methods.has(method));
  }

  /**
   * Signed-in flows (confirming a factor, turning MFA off): counts the attempt before the code is checked, so
   * parallel requests cannot check more than {@link MFA_MAX_WRONG_CODES} per window. Returns the give-back for an
   * attempt that turned out not to be a wrong code (right, or stopped before its code was checked).
   * @throws MfaRateLimitError MFA_TOO_MANY_ATTEMPTS once the window's attempts are spent: nothing is checked.
   */
  async function reserveCodeAttempt(userId: string): Promise<() => Promise<void>> {
    const key = wrongCodesKey(userId);
    const attempts = await kv.increment(key, { ttlSeconds: MFA_WRONG_CODE_WINDOW_SECONDS });
    if (attempts <= MFA_MAX_WRONG_CODES) {
      return async () => {
        await kv.increment(key, { by: -1, ttlSeconds: MFA_WRONG_CODE_WINDOW_SECONDS });
      };
    }
    const retryAfterSeconds = (await kv.ttlSeconds(key)) ?? MFA_WRONG_CODE_WINDOW_SECONDS;
    throw new MfaRateLimitError(
      MfaErrorCode.MFA_TOO_MANY_ATTEMPTS,
      `Too many wrong codes; try again in ${retryAfterSeconds} seconds`,
      retryAfterSeconds,
    );
  }

  /**
   * Checks `code` against what the user has, in this order: a code sent for `purpose` (six digits), the
   * authenticator app (six digits, each time step once), a backup code (consumed).
   */
  async function checkCode(
    userId: string,
    code: string,
    scope: { purpose: CodePurpose; challenge?: string; methods: readonly MfaMethod[]; state: MfaState },
  ): Promise<CodeOutcome> {
    const invalid = { ok: false, reason: MfaErrorCode.MFA_CODE_INVALID } as const;
    const digits = sixDigitCode.safeParse(code);
    if (digits.success) {
      if (scope.methods.includes('SMS') || scope.methods.includes('EMAIL')) {
        const sent = await codes.consume(
          userId,
          scope.purpose,
          digits.data,
          scope.challenge === undefined ? {} : { challenge: scope.challenge },
        );
        if (sent) {
          await repository.markFactorUsed(sent.factorId, now());
          return { ok: true, method: sent.method, backupCode: null };
        }
      }
      const totpFactor = scope.methods.includes('TOTP')
        ? scope.state.factors.find((factor) => factor.type === 'TOTP')
        : undefined;
      if (!totpFactor) return invalid;
      const at = now();
      const step = matchTotpStep(decryptSecret(totpFactor), digits.data, at);
      if (step === null) return invalid;
      if (!(await repository.claimTotpStep(totpFactor.id, step, at))) {
        return { ok: false, reason: MfaErrorCode.MFA_CODE_REUSED };
      }
      return { ok: true, method: 'TOTP', backupCode: null };
    }
    const backupCode = normalizeBackupCode(code);
    if (backupCode === null || !scope.methods.includes('BACKUP_CODE')) return invalid;
    const used = await repository.consumeBackupCode(userId, hashBackupCode(userId, backupCode), now());
    return used ? { ok: true, method: 'BACKUP_CODE', backupCode: used } : invalid;
  }

  /** After a backup code was used: audit, event, and a warning mail when few are left (once per code used). */
  async function afterBackupCodeUsed(
    account: AccountRecord,
    used: { id: string; remaining: number },
    client: ClientInfo,
  ): Promise<void> {
    await record(AuditAction.BACKUP_CODE_USED, 'SUCCESS', account.id, client, { remaining: used.remaining });
    await publish(
      MfaEventTopic.BACKUP_CODE_USED,
      securityEvent(account.id, 'BACKUP_CODE', client, { backupCodesRemaining: used.remaining }),
    );
    if (used.remaining > BACKUP_CODES_LOW_THRESHOLD) return;
    const manageUrl = link('/account/security');
    await mailBestEffort(
      () =>
        mailer.send({
          to: account.email,
          template: 'backup-codes-low',
          userId: account.id,
          // One warning per code used, even when the caller retries.
          idempotencyKey: `backup-codes-low:${used.id}`,
          data: { ...nameOf(account), remaining: used.remaining, ...(manageUrl ? { manageUrl } : {}) },
        }),
      'backup-codes-low',
      account.id,
    );
  }

  /**
   * Counts a send, runs `prepare` (e.g. storing the factor being enrolled), then issues and sends the code. A code
   * that did not go out is forgotten and its send given back.
   */
  async function sendCode(input: {
    account: AccountRecord;
    purpose: CodePurpose;
    method: MfaDeliveryMethod;
    to: string;
    factorId: string;
    challenge: string | null;
    client: ClientInfo;
    prepare?: () => Promise<void>;
  }): Promise<CodeDelivery> {
    const { account, purpose, method, to, factorId, challenge, client } = input;
    const sender = method === 'SMS' ? sms : null;
    if (method === 'SMS' && !sender) throw methodUnavailable('Text messages are not available');
    await codes.reserveSend(account.id);
    await input.prepare?.();
    const { code, expiresAt } = await codes.issue(account.id, purpose, { method, factorId, challenge });
    try {
      if (sender) {
        await sender.send({
          to,
          body: `${code} is your ${issuer} verification code. It expires in ${MFA_CODE_TTL_SECONDS / 60} minutes. Never share it.`,
        });
      } else {
        await mailer.send({
          to,
          template: 'mfa-code',
          userId: account.id,
          data: { ...nameOf(account), code, expiresInMinutes: MFA_CODE_TTL_SECONDS / 60 },
        });
      }
    } catch (error) {
      await codes.discard(account.id, purpose).catch(() => undefined);
      await codes.releaseSend(account.id).catch(() => undefined);
      throw error;
    }
    const destination = method === 'SMS' ? maskPhoneNumber(to) : maskEmail(to);
    await record(AuditAction.MFA_CODE_SENT, 'SUCCESS', account.id, client, { method, purpose, destination });
    return { expiresAt, destination };
  }

  /** Verifies a pending factor; the first one turns MFA on and gets backup codes. */
  async function finishEnrollment(
    account: AccountRecord,
    factor: MfaFactorRecord,
    step: number | null,
    client: ClientInfo,
  ): Promise<FactorConfirmation> {
    const backupCodes = generateBackupCodes();
    const result = await repository.verifyFactor({
      userId: account.id,
      factorId: factor.id,
      type: factor.type,
      at: now(),
      step,
      backupCodeHashes: backupCodes.map((code) => hashBackupCode(account.id, normalizeBackupCode(code)!)),
    });
    if (result.status === 'already-enrolled') throw alreadyEnrolled();
    if (result.status === 'not-found') throw enrollmentNotFound();

    await record(AuditAction.MFA_FACTOR_ENROLLED, 'SUCCESS', account.id, client, {
      factorId: factor.id,
      type: factor.type,
    });
    await publish(MfaEventTopic.MFA_FACTOR_ENROLLED, securityEvent(account.id, factor.type, client));
    if (!result.enabledMfa) return { backupCodes: null };

    await record(AuditAction.MFA_ENABLED, 'SUCCESS', account.id, client, {
      factorId: factor.id,
      type: factor.type,
      backupCodes: BACKUP_CODE_COUNT,
    });
    await publish(MfaEventTopic.MFA_ENABLED, securityEvent(account.id, factor.type, client));
    const manageUrl = link('/account/security');
    const device = deviceOf(client);
    await mailBestEffort(
      () =>
        mailer.send({
          to: account.email,
          template: 'mfa-enabled',
          userId: account.id,
          data: {
            ...nameOf(account),
            at: now(),
            method: describeMethod(factor),
            ...(client.ip ? { ip: client.ip } : {}),
            ...(device ? { device } : {}),
            ...(manageUrl ? { manageUrl } : {}),
          },
        }),
      'mfa-enabled',
      account.id,
    );
    return { backupCodes };
  }

  /** Stores a pending SMS/e-mail factor (replacing an unconfirmed one) and sends it a code to confirm it with. */
  async function enrollDelivered(
    account: AccountRecord,
    type: MfaDeliveryMethod,
    to: string,
    client: ClientInfo,
  ): Promise<CodeDelivery> {
    // Checked before a send is counted; the transaction below decides under concurrency.
    const { factors } = await repository.state(account.id);
    if (factors.some((factor) => factor.type === type)) throw alreadyEnrolled();
    const factorId = randomUUID();
    return sendCode({
      account,
      purpose: type === 'SMS' ? 'enroll-sms' : 'enroll-email',
      method: type,
      to,
      factorId,
      challenge: null,
      client,
      async prepare() {
        const stored = await repository.replacePendingFactor({
          id: factorId,
          userId: account.id,
          type,
          ...(type === 'SMS' ? { phoneNumber: to } : { email: to }),
        });
        if (!stored) {
          await codes.releaseSend(account.id);
          throw alreadyEnrolled();
        }
      },
    });
  }

  /** Confirms a pending SMS/e-mail factor with the code sent to it. */
  async function confirmDelivered(
    userId: string,
    type: MfaDeliveryMethod,
    code: string,
    client: ClientInfo,
  ): Promise<FactorConfirmation> {
    const account = await requireAccount(userId);
    const factor = await repository.findPendingFactor(userId, type);
    if (!factor) throw enrollmentNotFound();
    const digits = sixDigitCode.safeParse(code);
    if (!digits.success) throw codeInvalid();
    const giveBack = await reserveCodeAttempt(userId);
    const purpose: CodePurpose = type === 'SMS' ? 'enroll-sms' : 'enroll-email';
    const sent = await codes.consume(userId, purpose, digits.data, { factorId: factor.id });
    if (!sent) throw codeInvalid();
    await giveBack();
    return finishEnrollment(account, factor, null, client);
  }

  const checkCurrentPassword = createCurrentPasswordCheck({ accounts, hasher, guard, audit, mailer });

  /**
   * The current password of a signed-in user confirming a change (identity's shared re-authentication: wrong ones
   * count toward the lockout). An account without a password (provider sign-in only) is PASSWORD_NOT_SET here.
   */
  async function checkPassword(
    account: AccountRecord,
    password: string,
    client: ClientInfo,
    action: AuditAction,
  ): Promise<void> {
    if (!account.passwordHash) throw passwordNotSet();
    await checkCurrentPassword(account, password, client, action);
  }

  /** The challenge of a token, or null when it is malformed, unknown or expired (an expired one is removed). */
  async function loadChallenge(
    mfaToken: string,
  ): Promise<{ tokenHash: string; challenge: StoredChallenge } | null> {
    if (typeof mfaToken !== 'string' || !MFA_TOKEN_FORMAT.test(mfaToken)) return null;
    const tokenHash = hashToken(mfaToken);
    const raw = await kv.get(challengeKey(tokenHash));
    if (raw === null) return null;
    const challenge = JSON.parse(raw) as StoredChallenge;
    if (new Date(challenge.expiresAt) <= now()) {
      await destroyChallenge(tokenHash, challenge.userId);
      return null;
    }
    return { tokenHash, challenge };
  }

  /**
   * Its attempt counter stays until its TTL (no longer than the challenge's): requests that loaded the challenge
   * before it was destroyed must still find their attempts spent, not a fresh counter.
   */
  async function destroyChallenge(tokenHash: string, userId: string): Promise<void> {
    await Promise.all([kv.delete(challengeKey(tokenHash)), codes.discard(userId, 'challenge')]);
  }

  // ---- the service -----------------------------------------------------------------------------------------

  return {
    async isRequired(userId) {
      const state = await repository.state(userId);
      return state.mfaEnabled && state.factors.length > 0;
    },

    async createChallenge(userId, context) {
      const parsedContext = challengeContext.safeParse(context);
      if (!parsedContext.success || Object.keys(parsedContext.data).length > MAX_CONTEXT_ENTRIES) {
        throw new RangeError('createChallenge: context must be at most 16 short string (or null) entries');
      }
      const state = await repository.state(userId);
      if (!state.mfaEnabled || state.factors.length === 0) throw mfaNotEnabled();
      const methods = usableMethods(state);
      // Only SMS enrolled, no provider configured any more, no backup codes left: nothing could pass.
      if (methods.length === 0)
        throw methodUnavailable('No verification method of this account is available');
      const mfaToken = generateToken(32);
      const expiresAt = new Date(now().getTime() + MFA_CHALLENGE_TTL_SECONDS * 1000);
      const stored: StoredChallenge = {
        userId,
        methods,
        context: parsedContext.data,
        expiresAt: expiresAt.toISOString(),
      };
      await kv.set(challengeKey(hashToken(mfaToken)), JSON.stringify(stored), {
        ttlSeconds: MFA_CHALLENGE_TTL_SECONDS,
      });
      return { mfaToken, methods, expiresAt };
    },

    async sendChallengeCode(mfaToken, method, client) {
      const loaded = await loadChallenge(mfaToken);
      if (!loaded) throw challengeInvalid();
      const { tokenHash, challenge } = loaded;
      if (!challenge.methods.includes(method)) throw methodUnavailable();
      const [account, state] = await Promise.all([
        accounts.findById(challenge.userId),
        repository.state(challenge.userId),
      ]);
      if (!account) throw challengeInvalid();
      const factor = state.factors.find((candidate) => candidate.type === method);
      const to = method === 'SMS' ? factor?.phoneNumber : factor?.email;
      if (!factor || !to) throw methodUnavailable();
      return sendCode({
        account,
        purpose: 'challenge',
        method,
        to,
        factorId: factor.id,
        challenge: tokenHash,
        client,
      });
    },

    async verifyChallenge(mfaToken, code, client) {
      const loaded = await loadChallenge(mfaToken);
      if (!loaded) throw challengeInvalid();
      const { tokenHash, challenge } = loaded;
      const { userId } = challenge;
      const account = await accounts.findById(userId);
      if (!account || account.status === 'SUSPENDED' || account.status === 'DEACTIVATED') {
        await destroyChallenge(tokenHash, userId);
        throw challengeInvalid();
      }
      // Locked meanwhile (wrong codes, or guesses at the password elsewhere): the sign-in starts over, and the
      // answer does not tell the lock apart, as sign-in never does (the owner was mailed when it was set).
      if (await guard.lockedUntil(userId)) {
        await destroyChallenge(tokenHash, userId);
        await record(AuditAction.MFA_CHALLENGE_FAILED, 'FAILURE', userId, client, {
          reason: CredentialErrorCode.ACCOUNT_LOCKED,
        });
        throw challengeInvalid();
      }

      if (!isWellFormedCode(code, true)) throw codeInvalid();

      // Every attempt is counted before its code is compared, per challenge (KV) and per account (PostgreSQL,
      // apart from the password's count: a correct password clears nothing here), so parallel requests cannot
      // get more guesses than the limits, and neither signing in again nor a Redis flush gives fresh ones.
      const challengeAttempt = await kv.increment(challengeFailuresKey(tokenHash), {
        ttlSeconds: MFA_CHALLENGE_TTL_SECONDS,
      });
      const accountAttempt =
        challengeAttempt <= MFA_CHALLENGE_MAX_FAILURES
          ? await guard.reserveSecondFactorAttempt(userId)
          : null;
      if (!accountAttempt) {
        await destroyChallenge(tokenHash, userId);
        await record(AuditAction.MFA_CHALLENGE_FAILED, 'FAILURE', userId, client, {
          reason: MfaErrorCode.MFA_TOO_MANY_ATTEMPTS,
          challengeDestroyed: true,
        });
        throw challengeInvalid('Too many wrong codes; sign in again');
      }

      const state = await repository.state(userId);
      const outcome = await checkCode(userId, code, {
        purpose: 'challenge',
        challenge: tokenHash,
        methods: challenge.methods,
        state,
      });

      if (!outcome.ok) {
        const failures = challengeAttempt;
        const attemptsRemaining = Math.min(MFA_CHALLENGE_MAX_FAILURES - failures, accountAttempt.remaining);
        const destroyed = attemptsRemaining <= 0;
        if (destroyed) await destroyChallenge(tokenHash, userId);
        await record(AuditAction.MFA_CHALLENGE_FAILED, 'FAILURE', userId, client, {
          reason: outcome.reason,
          failures,
          accountFailures: accountAttempt.attempts,
          challengeDestroyed: destroyed,
        });
        await publish(
          MfaEventTopic.MFA_CHALLENGE_FAILED,
          securityEvent(userId, null, client, { reason: outcome.reason, failures }),
        );
        // The account's last allowed wrong code locks it, audited and mailed like the password's lockout.
        const lock = await guard.recordSecondFactorFailure(accountAttempt);
        await reportLock(wrongCodeDependencies, account, client, lock, 'WRONG_MFA_CODE');
        if (destroyed) throw challengeInvalid('Too many wrong codes; sign in again');
        throw challengeCodeInvalid(outcome.reason, attemptsRemaining);
      }

      // Single use: of concurrent successes only the one whose delete removed the challenge signs in.
      if (!(await kv.delete(challengeKey(tokenHash)))) throw challengeInvalid();
      await codes.discard(userId, 'challenge');
      await guard.recordSecondFactorSuccess(userId);
      await guard.recordSuccess(userId);
      await record(AuditAction.MFA_CHALLENGE_PASSED, 'SUCCESS', userId, client, { method: outcome.method });
      if (outcome.backupCode) await afterBackupCodeUsed(account, outcome.backupCode, client);
      return {
        userId,
        method: outcome.method,
        context: challenge.context,
        backupCodesRemaining: outcome.backupCode ? outcome.backupCode.remaining : null,
      };
    },

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

    async enrollTotp(userId) {
      const account = await requireAccount(userId);
      const secret = generateTotpSecret();
      const factorId = randomUUID();
      const stored = await repository.replacePendingFactor({
        id: factorId,
        userId,
        type: 'TOTP',
        secretEncrypted: cipher.encrypt(secret, secretAad(factorId)),
      });
      if (!stored) throw alreadyEnrolled();
      const otpauthUri = totpKeyUri({ issuer, account: account.email, secret });
      return { secret, otpauthUri, qrCodeDataUrl: await qrCodeDataUrl(otpauthUri) };
    },

    async confirmTotp(userId, code, client) {
      const account = await requireAccount(userId);
      const factor = await repository.findPendingFactor(userId, 'TOTP');
      if (!factor) throw enrollmentNotFound();
      const digits = sixDigitCode.safeParse(code);
      if (!digits.success) throw codeInvalid();
      const giveBack = await reserveCodeAttempt(userId);
      const step = matchTotpStep(decryptSecret(factor), digits.data, now());
      if (step === null) throw codeInvalid();
      await giveBack();
      return finishEnrollment(account, factor, step, client);
    },

    async enrollSms(userId, phoneNumber, client) {
      if (!sms) throw methodUnavailable('Text messages are not available');
      const to = typeof phoneNumber === 'string' ? normalizePhoneNumber(phoneNumber) : null;
      if (!to) throw phoneNumberInvalid();
      return enrollDelivered(await requireAccount(userId), 'SMS', to, client);
    },

    confirmSms: (userId, code, client) => confirmDelivered(userId, 'SMS', code, client),

    async enrollEmail(userId, client) {
      const account = await requireAccount(userId);
      return enrollDelivered(account, 'EMAIL', account.email, client);
    },

    confirmEmail: (userId, code, client) => confirmDelivered(userId, 'EMAIL', code, client),

    async sendVerificationCode(userId, method, client) {
      const account = await requireAccount(userId);
      const state = await repository.state(userId);
      if (!state.mfaEnabled) throw mfaNotEnabled();
      const factor = state.factors.find((candidate) => candidate.type === method);
      const to = method === 'SMS' ? factor?.phoneNumber : factor?.email;
      if (!factor || !to) throw methodUnavailable();
      return sendCode({
        account,
        purpose: 'verify',
        method,
        to,
        factorId: factor.id,
        challenge: null,
        client,
      });
    },

    async regenerateBackupCodes(userId, password, client) {
      const account = await requireAccount(userId);
      const state = await repository.state(userId);
      if (!state.mfaEnabled) throw mfaNotEnabled();
      await checkPassword(account, password, client, AuditAction.BACKUP_CODES_REGENERATED);
      const backupCodes = generateBackupCodes();
      const replaced = await repository.replaceBackupCodes(
        userId,
        backupCodes.map((code) => hashBackupCode(userId, normalizeBackupCode(code)!)),
      );
      if (!replaced) throw mfaNotEnabled();
      await record(AuditAction.BACKUP_CODES_REGENERATED, 'SUCCESS', userId, client, {
        count: backupCodes.length,
      });
      await publish(MfaEventTopic.BACKUP_CODES_REGENERATED, securityEvent(userId, 'BACKUP_CODE', client));
      return backupCodes;
    },

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
