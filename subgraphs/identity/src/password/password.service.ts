import { generateToken, hashToken, type PasswordHasher } from '@gatehouse/crypto';
import { AppError, ErrorCode } from '@gatehouse/errors';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Mailer } from '@gatehouse/mail';
import type { Viewer } from '@gatehouse/service';
import { AuditAction, type AuditLog } from '../audit';
import {
  CredentialErrorCode,
  emailSchema,
  PASSWORD_ABSOLUTE_MAX_LENGTH,
  resolvePasswordPolicy,
  verifyAndUpgrade,
  type DummyPasswordCheck,
  type FieldError,
  type LoginGuard,
  type PasswordHistory,
  type PasswordPolicy,
  type PasswordPolicySource,
  auditClientFields,
  recordWrongPassword,
} from '../credentials';
import { PasswordErrorCode } from './error-codes';
import type { AccountRecord, AccountRepository } from '../users';
import type {
  PasswordResetTokenRepository,
  PasswordResetTokenState,
} from './password-reset-token.repository';
import type { SessionService } from '../sessions';
import type { ClientInfo } from '../client-info';
import type { MailThrottle } from '../registration';

/** Reset links work this long. */
export const RESET_TOKEN_TTL_MINUTES = 60;
/** generateToken(32) is 43 base64url characters; anything else is refused without a query. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
/**
 * `requestPasswordReset` never answers faster than this, whether or not the address has an account, so its
 * timing does not tell them apart (the live path writes two stores and queues a mail: tens of milliseconds).
 */
const DEFAULT_REQUEST_MIN_DURATION_MS = 250;

/** Outcome of a password form: accepted, or the problems per field. */
export interface PasswordChangeOutcome {
  success: boolean;
  fieldErrors: FieldError[];
}

export interface PasswordService {
  /**
   * Mails a reset link when the address belongs to a live account and had fewer than its share of reset mails in
   * the throttle's window; silently does nothing otherwise (same answer, same minimum duration).
   */
  requestPasswordReset(email: string, client: ClientInfo): Promise<void>;
  /**
   * Sets a new password with the token of a reset link, ends every session and clears a lockout.
   * A refused password (policy, history) leaves the token usable.
   * @throws AppError BAD_USER_INPUT with reason RESET_TOKEN_INVALID / _EXPIRED / _USED.
   */
  resetPassword(token: string, newPassword: string, client: ClientInfo): Promise<PasswordChangeOutcome>;
  /**
   * Sets a new password after proving the current one, and ends the viewer's other sessions. A wrong current
   * password is a `currentPassword` field error (INVALID_CREDENTIALS) and counts as a failed sign-in.
   */
  changePassword(
    viewer: Viewer,
    input: { currentPassword: string; newPassword: string },
    client: ClientInfo,
  ): Promise<PasswordChangeOutcome>;
}

export interface PasswordServiceOptions {
  accounts: AccountRepository;
  resetTokens: PasswordResetTokenRepository;
  /** Fast path of the reset token: hash -> user id with the token's TTL. Postgres decides. */
  kv: KeyValueStore;
  hasher: PasswordHasher;
  dummy: DummyPasswordCheck;
  /** A fixed policy, or the one in force per change (settings). */
  policy: PasswordPolicy | PasswordPolicySource;
  history: PasswordHistory;
  guard: LoginGuard;
  sessions: SessionService;
  mailer: Pick<Mailer, 'send'>;
  audit: AuditLog;
  /** Per-recipient limit of reset mails (anyone can ask for one for any address). */
  mailThrottle: MailThrottle;
  /** Base of links in mail (PUBLIC_URL). */
  publicUrl: string;
  requestMinDurationMs?: number;
  /** Receives KV errors; the flows carry on with Postgres alone. */
  logger?: { warn(details: object, message: string): void };
  now?: () => Date;
}

const resetTokenKey = (tokenHash: string) => `password-reset:${tokenHash}`;
const userResetKey = (userId: string) => `password-reset-user:${userId}`;

function tokenError(reason: PasswordErrorCode, message: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createPasswordService(options: PasswordServiceOptions): PasswordService {
  const { accounts, resetTokens, kv, hasher, dummy, policy, history, guard, sessions, mailer, audit } =
    options;
  const { publicUrl, mailThrottle } = options;
  const minDuration = options.requestMinDurationMs ?? DEFAULT_REQUEST_MIN_DURATION_MS;
  const now = options.now ?? (() => new Date());
  const ttlSeconds = RESET_TOKEN_TTL_MINUTES * 60;

  /** Policy (with the owner's own data) then history; only the first failing stage is reported. */
  async function checkNewPassword(account: AccountRecord, password: string): Promise<FieldError[]> {
    const checked = (await resolvePasswordPolicy(policy)).check(password, {
      email: account.email,
      name: account.displayName,
    });
    if (!checked.ok) return checked.errors;
    if (await history.isRecentlyUsed(account.id, password)) {
      return [
        {
          field: 'newPassword',
          code: CredentialErrorCode.PASSWORD_RECENTLY_USED,
          message: 'Choose a password you have not used recently.',
        },
      ];
    }
    return [];
  }

  const asNewPasswordErrors = (errors: FieldError[]) =>
    errors.map((error) => (error.field === 'password' ? { ...error, field: 'newPassword' } : error));

  /** New argon2id hash in place; the old one goes to the history so it cannot be chosen again soon. */
  async function replacePassword(account: AccountRecord, password: string): Promise<void> {
    const newHash = await hasher.hash(password);
    if (account.passwordHash) await history.remember(account.id, account.passwordHash);
    await accounts.setPassword(account.id, newHash, now());
  }

  async function mailPasswordChanged(account: AccountRecord, client: ClientInfo): Promise<void> {
    await mailer.send({
      to: account.email,
      template: 'password-changed',
      userId: account.id,
      data: {
        ...(account.displayName ? { name: account.displayName } : {}),
        at: now(),
        ...(client.ip ? { ip: client.ip } : {}),
        resetUrl: `${publicUrl}/forgot-password`,
      },
    });
  }

  /**
   * KV writes are best effort: Postgres is the record and `consume` there decides. A KV entry that outlives its
   * token (a failed delete) can only skip the read before the password check; the consume still refuses it.
   */
  async function kvBestEffort(work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      options.logger?.warn({ err }, 'password reset: KV unavailable, carrying on with Postgres');
    }
  }

  /** The user of a live token: from the KV (fast path), else from Postgres (after a Redis flush, say). */
  async function lookUpToken(tokenHash: string): Promise<PasswordResetTokenState> {
    let cached: string | null = null;
    try {
      cached = await kv.get(resetTokenKey(tokenHash));
    } catch (err) {
      options.logger?.warn({ err }, 'password reset: KV unavailable, reading the token from Postgres');
    }
    return cached ? { status: 'valid', userId: cached } : resetTokens.find(tokenHash, now());
  }

  async function issueResetToken(account: AccountRecord, client: ClientInfo): Promise<void> {
    const token = generateToken(32);
    const tokenHash = hashToken(token);
    const expiresAt = new Date(now().getTime() + ttlSeconds * 1000);
    const tokenId = await resetTokens.replaceForUser({
      userId: account.id,
      tokenHash,
      expiresAt,
      requestedIp: client.ip,
    });
    await kvBestEffort(async () => {
      const previous = await kv.get(userResetKey(account.id));
      if (previous) await kv.delete(resetTokenKey(previous));
      await kv.set(resetTokenKey(tokenHash), account.id, { ttlSeconds });
      await kv.set(userResetKey(account.id), tokenHash, { ttlSeconds });
    });
    await mailer.send({
      to: account.email,
      template: 'password-reset',
      userId: account.id,
      idempotencyKey: `password-reset:${tokenId}`,
      data: {
        ...(account.displayName ? { name: account.displayName } : {}),
        resetUrl: `${publicUrl}/reset-password?token=${encodeURIComponent(token)}`,
        expiresInMinutes: RESET_TOKEN_TTL_MINUTES,
        ...(client.ip ? { ip: client.ip } : {}),
      },
    });
    await audit.record({
      action: AuditAction.PASSWORD_RESET_REQUESTED,
      outcome: 'SUCCESS',
      targetType: 'User',
      targetId: account.id,
      ...auditClientFields(client),
    });
  }

  return {
    async requestPasswordReset(email, client) {
      const started = Date.now();
      try {
        const parsed = emailSchema.safeParse(email);
        const account = parsed.success ? await accounts.findByEmail(parsed.data) : null;
        // Unverified accounts get no link: their address was never proven, and verifying it comes first.
        // Throttled: no new token either, so the links already mailed keep working.
        if (
          account &&
          account.status === 'ACTIVE' &&
          account.emailVerified &&
          (await mailThrottle.allow('password-reset', account.email))
        ) {
          await issueResetToken(account, client);
        }
      } finally {
        const left = minDuration - (Date.now() - started);
        if (left > 0) await sleep(left);
      }
    },

    async resetPassword(token, newPassword, client) {
      if (!TOKEN_FORMAT.test(token)) {
        throw tokenError(PasswordErrorCode.RESET_TOKEN_INVALID, 'The password reset link is not valid');
      }
      const tokenHash = hashToken(token);
      const state = await lookUpToken(tokenHash);
      const refuse = (status: 'unknown' | 'expired' | 'used') => {
        if (status === 'expired') {
          return tokenError(PasswordErrorCode.RESET_TOKEN_EXPIRED, 'The password reset link has expired');
        }
        if (status === 'used') {
          return tokenError(PasswordErrorCode.RESET_TOKEN_USED, 'The password reset link was already used');
        }
        return tokenError(PasswordErrorCode.RESET_TOKEN_INVALID, 'The password reset link is not valid');
      };
      if (state.status !== 'valid') throw refuse(state.status);
      const account = await accounts.findById(state.userId);
      if (!account || account.status === 'SUSPENDED' || account.status === 'DEACTIVATED') {
        throw refuse('unknown');
      }

      // Checked before the token is consumed: a refused password can be corrected with the same link.
      const fieldErrors = asNewPasswordErrors(await checkNewPassword(account, newPassword));
      if (fieldErrors.length > 0) return { success: false, fieldErrors };

      const consumed = await resetTokens.consume(tokenHash, now());
      if (consumed.status !== 'valid') throw refuse(consumed.status);
      await kvBestEffort(() =>
        Promise.all([kv.delete(resetTokenKey(tokenHash)), kv.delete(userResetKey(account.id))]),
      );

      await replacePassword(account, newPassword);
      const revoked = await sessions.revokeAllSessions(account.id, 'PASSWORD_RESET');
      // The link proved control of the mailbox: whoever locked the account out by guessing is locked out again.
      await guard.recordSuccess(account.id);
      await mailPasswordChanged(account, client);
      await audit.record({
        action: AuditAction.PASSWORD_RESET,
        outcome: 'SUCCESS',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ...auditClientFields(client),
        metadata: { sessionsRevoked: revoked },
      });
      return { success: true, fieldErrors: [] };
    },

    async changePassword(viewer, input, client) {
      const account = await accounts.findById(viewer.userId);
      const wrongCurrent = async (reason: string) => {
        await audit.record({
          action: AuditAction.PASSWORD_CHANGED,
          outcome: 'FAILURE',
          actorUserId: viewer.userId,
          targetType: 'User',
          targetId: viewer.userId,
          ...auditClientFields(client),
          metadata: { reason },
        });
        return {
          success: false,
          fieldErrors: [
            {
              field: 'currentPassword',
              code: CredentialErrorCode.INVALID_CREDENTIALS,
              message: 'The current password is not correct.',
            },
          ],
        };
      };
      if (input.currentPassword.length > PASSWORD_ABSOLUTE_MAX_LENGTH) return wrongCurrent('MALFORMED_INPUT');
      // A locked account (guessing through a stolen access token) answers like a wrong password. The attempt is
      // counted before the password is verified, so parallel guesses cannot outrun the limit.
      const attempt = account ? await guard.reservePasswordAttempt(account.id) : null;
      if (!account || !attempt) {
        await dummy.equalizeTiming(input.currentPassword);
        return wrongCurrent(account ? CredentialErrorCode.ACCOUNT_LOCKED : 'UNKNOWN_USER');
      }
      const verification = await verifyAndUpgrade(hasher, account, input.currentPassword, dummy);
      if (!verification.ok) {
        // Counted like a failed sign-in: an access token must not allow unlimited password guesses.
        await recordWrongPassword({ guard, audit, mailer }, account, client, attempt);
        return wrongCurrent('WRONG_PASSWORD');
      }
      await guard.recordSuccess(account.id);

      const fieldErrors = asNewPasswordErrors(await checkNewPassword(account, input.newPassword));
      if (fieldErrors.length > 0) return { success: false, fieldErrors };

      await replacePassword(account, input.newPassword);
      const revoked = await sessions.revokeOtherSessions(
        account.id,
        viewer.sessionId ?? null,
        'PASSWORD_CHANGED',
      );
      await mailPasswordChanged(account, client);
      await audit.record({
        action: AuditAction.PASSWORD_CHANGED,
        outcome: 'SUCCESS',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ...auditClientFields(client),
        metadata: { sessionsRevoked: revoked, keptSessionId: viewer.sessionId ?? null },
      });
      return { success: true, fieldErrors: [] };
    },
  };
}
