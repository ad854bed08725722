/**
 * The steps every MFA flow shares (audit, events, best-effort mail, the code check, sending a code, finishing an
 * enrollment, re-authentication), built once per service from its options. The flows themselves live by factor
 * and step: mfa-challenge.ts, mfa-totp.ts, mfa-sent-codes.ts, mfa-backup-codes.ts; mfa.service.ts composes them.
 */
import { z } from 'zod';
import { AuditAction, type AuditMetadataValue } from '../audit';
import { auditClientFields, createCurrentPasswordCheck } from '../credentials';
import type { AccountRecord } from '../users';
import type { ClientInfo } from '../client-info';
import { parseUserAgent } from '../sessions';
import { BACKUP_CODE_COUNT, generateBackupCodes, hashBackupCode, normalizeBackupCode } from './backup-codes';
import { maskEmail, maskPhoneNumber } from './destination';
import { MfaErrorCode } from './error-codes';
import {
  MfaRateLimitError,
  accountNotFound,
  alreadyEnrolled,
  enrollmentNotFound,
  methodUnavailable,
  passwordNotSet,
} from './errors';
import type { MfaFactorRecord, MfaState } from './mfa.repository';
import type { CodeDelivery, FactorConfirmation, MfaDeliveryMethod, MfaMethod } from './mfa.types';
import { createOneTimeCodeStore, type CodePurpose } from './one-time-codes';
import { matchTotpStep } from './totp';
import {
  MFA_CODE_MAX_SENDS,
  MFA_CODE_SEND_WINDOW_SECONDS,
  MFA_CODE_TTL_SECONDS,
  MFA_MAX_WRONG_CODES,
  MFA_WRONG_CODE_WINDOW_SECONDS,
  MfaEventTopic,
  type MfaSecurityEvent,
} from './mfa.constants';
import type { MfaServiceOptions } from './mfa.service';

/** Six digits; spaces people type between the groups are ignored. */
export const sixDigitCode = z
  .string()
  .max(32)
  .transform((value) => value.replace(/\s/g, ''))
  .pipe(z.string().regex(/^\d{6}$/));
/**
 * Whether `code` could be a code at all: six digits, or (where backup codes count) a backup code. Anything else
 * is refused without being counted as a guess: it can never be right, so counting it would only punish typos.
 */
export function isWellFormedCode(code: unknown, backupCodes: boolean): code is string {
  if (typeof code !== 'string') return false;
  return sixDigitCode.safeParse(code).success || (backupCodes && normalizeBackupCode(code) !== null);
}

const METHOD_ORDER: readonly MfaMethod[] = ['TOTP', 'SMS', 'EMAIL', 'BACKUP_CODE'];

/** How a code was checked: passed by `method`, or refused with a reason. */
export type CodeOutcome =
  | { ok: true; method: MfaMethod; backupCode: { id: string; remaining: number } | null }
  | { ok: false; reason: typeof MfaErrorCode.MFA_CODE_INVALID | typeof MfaErrorCode.MFA_CODE_REUSED };

const wrongCodesKey = (userId: string) => `mfa:wrong-codes:${userId}`;
/** The secret's envelope is bound to its row: copied into another factor it does not decrypt. */
export const secretAad = (factorId: string) => `mfa-factor:${factorId}`;

export function describeMethod(factor: Pick<MfaFactorRecord, 'type' | 'phoneNumber' | 'email'>): string {
  switch (factor.type) {
    case 'TOTP':
      return 'an authenticator app';
    case 'SMS':
      return `text messages to ${maskPhoneNumber(factor.phoneNumber ?? '')}`;
    case 'EMAIL':
      return `codes mailed to ${maskEmail(factor.email ?? '')}`;
  }
}

export function destinationOf(factor: MfaFactorRecord): string | null {
  if (factor.type === 'SMS' && factor.phoneNumber) return maskPhoneNumber(factor.phoneNumber);
  if (factor.type === 'EMAIL' && factor.email) return maskEmail(factor.email);
  return null;
}

/** `Firefox 120 on Linux`, for mails about changes. */
export function deviceOf(client: ClientInfo): string | undefined {
  const { browser, os } = parseUserAgent(client.userAgent);
  return [browser, os].filter(Boolean).join(' on ') || undefined;
}

/** The shared steps and dependencies of the MFA flows; see {@link createMfaToolkit}. */
export type MfaToolkit = ReturnType<typeof createMfaToolkit>;

export function createMfaToolkit(options: MfaServiceOptions) {
  const { kv, events, mailer, cipher, accounts, hasher, guard, audit, sessions, sms, issuer, logger } =
    options;
  const now = options.now ?? (() => new Date());
  const publicUrl = options.publicUrl?.replace(/\/+$/, '');
  const { repository } = options;
  const codes = createOneTimeCodeStore({
    kv,
    now,
    ttlSeconds: MFA_CODE_TTL_SECONDS,
    maxSends: MFA_CODE_MAX_SENDS,
    sendWindowSeconds: MFA_CODE_SEND_WINDOW_SECONDS,
  });
  const wrongCodeDependencies = { audit, mailer };

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

  return {
    kv,
    events,
    mailer,
    cipher,
    accounts,
    guard,
    audit,
    sessions,
    sms,
    issuer,
    now,
    repository,
    codes,
    wrongCodeDependencies,
    requireAccount,
    publish,
    securityEvent,
    record,
    mailBestEffort,
    nameOf,
    link,
    decryptSecret,
    usableMethods,
    reserveCodeAttempt,
    checkCode,
    sendCode,
    finishEnrollment,
    checkPassword,
  };
}
