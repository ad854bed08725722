import { generateToken, hashToken, type PasswordHasher } from '@gatehouse/crypto';
import { AppError, ErrorCode } from '@gatehouse/errors';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Mailer } from '@gatehouse/mail';
import { AuditAction, type AuditLog } from '../audit';
import type { AccountRecord, AccountRepository } from '../users';
import type { ClientInfo } from '../client-info';
import {
  auditClientFields,
  createCurrentPasswordCheck,
  type CurrentPasswordCheck,
  type LoginGuard,
} from '../credentials';
import type { SessionService } from '../sessions';
import { LeavingErrorCode } from './error-codes';
import {
  REACTIVATION_TOKEN_HASH_PREFIX,
  type LeavingRepository,
  type PurgeCandidate,
} from './leaving.repository';
import { MIN_PSEUDONYM_KEY_BYTES, pseudonymizeUserId } from './pseudonym';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A deleted account's personal data is purged this many days after the deletion. */
export const PURGE_AFTER_DAYS = 30;
/** Reactivation links work this long. */
export const REACTIVATION_TOKEN_TTL_HOURS = 24;
/** At most one reactivation mail per account per this many seconds, however often the right password is typed. */
export const REACTIVATION_MAIL_INTERVAL_SECONDS = 5 * 60;
/** generateToken(32) is 43 base64url characters; anything else is refused without a query. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** Object-storage folder of a user's avatar uploads (the account subgraph stores them there). */
export const avatarStoragePrefix = (userId: string) => `public/avatars/${userId}/`;
/** Object-storage folder of a user's data exports (the account subgraph stores them there). */
export const exportStoragePrefix = (userId: string) => `exports/${userId}/`;

/** The part of `@gatehouse/storage`'s ObjectStorage the purge needs. */
export interface AccountFileStorage {
  /** Removes every object under `prefix`; @returns how many. */
  deletePrefix(prefix: string): Promise<number>;
}

export interface LeavingLogger {
  info?(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** The outcome of one purge run. */
export interface PurgeResult {
  /** Users purged by this run. */
  purged: number;
  /** Users whose purge failed (rolled back; the next run tries again). */
  failed: number;
}

/** The account facts {@link LeavingService.requestReactivation} needs (what sign-in already holds). */
export type ReactivationAccount = Pick<AccountRecord, 'id' | 'email' | 'displayName' | 'status'>;

/**
 * Leaving the platform and coming back.
 *
 * Reactivation rule: a deactivated account signs in as before (password, lockout and all); a correct password does
 * not sign in but mails a single-use link (24 hours; only the newest works; at most one mail per 5 minutes), and
 * following the link makes the account ACTIVE again. The user then signs in normally. Proving both the password and
 * the mailbox means neither a leaked password nor a hijacked mailbox alone can bring an account back.
 *
 * Deletion rule: a deleted account is gone for the user at once (no sign-in, every session ended, the address
 * cannot sign in); its personal data is purged {@link PURGE_AFTER_DAYS} days later by {@link LeavingService.purgeDeleted}.
 * Until then support can still restore it by hand; there is no self-service undo.
 */
export interface LeavingService {
  /**
   * Password first. Then the account becomes DEACTIVATED, every session and refresh token is revoked, the owner is
   * mailed and the change audited.
   * @throws AppError BAD_USER_INPUT: INVALID_CREDENTIALS (wrong password, counted toward the lockout),
   * ACCOUNT_NOT_ACTIVE, ACCOUNT_NOT_FOUND.
   */
  deactivate(userId: string, password: string, client: ClientInfo): Promise<void>;
  /**
   * For sign-in, after a CORRECT password (or provider sign-in) of a DEACTIVATED account: mails a reactivation link.
   * Does nothing for other states and when a link was mailed within the last 5 minutes.
   * @returns whether a mail was sent now.
   */
  requestReactivation(account: ReactivationAccount, client: ClientInfo): Promise<{ mailed: boolean }>;
  /**
   * The link's token: the account is ACTIVE again.
   * @throws AppError BAD_USER_INPUT: REACTIVATION_TOKEN_INVALID / _EXPIRED / _USED.
   */
  reactivate(token: string, client: ClientInfo): Promise<{ userId: string }>;
  /**
   * Password first. Then the account becomes DELETED (`deleted_at` now), every session is revoked, the owner is
   * mailed when the data will be purged and the deletion audited.
   * @returns when the personal data will be purged.
   * @throws AppError BAD_USER_INPUT: INVALID_CREDENTIALS, ACCOUNT_NOT_FOUND.
   */
  delete(userId: string, password: string, client: ClientInfo): Promise<{ purgeAt: Date }>;
  /**
   * An administrator's override of {@link LeavingService.delete}: no password, otherwise the same (DELETED at once,
   * every session revoked, the owner mailed, the purge scheduled). Audited as ACCOUNT_DELETED with the
   * administrator as actor, the user as target and `metadata.byAdmin`.
   * @throws AppError BAD_USER_INPUT: ACCOUNT_NOT_FOUND (unknown, malformed or already deleted).
   */
  deleteByAdmin(userId: string, adminUserId: string, client: ClientInfo): Promise<{ purgeAt: Date }>;
  /**
   * Purges every user deleted at least `olderThanDays` (default 30) days ago and not purged yet, one transaction per
   * user. Idempotent and safe to run concurrently (each user is locked with FOR UPDATE SKIP LOCKED). A user whose
   * purge fails is logged, left for the next run and counted in `failed`.
   */
  purgeDeleted(options?: { olderThanDays?: number }): Promise<PurgeResult>;
}

export interface LeavingServiceOptions {
  /** Deactivation, deletion, reactivation and purge queries (the only database access of leaving). */
  repository: LeavingRepository;
  accounts: AccountRepository;
  hasher: PasswordHasher;
  guard: LoginGuard;
  sessions: Pick<SessionService, 'revokeAllSessions'>;
  mailer: Pick<Mailer, 'send'>;
  audit: AuditLog;
  /** Throttles reactivation mails. */
  kv: KeyValueStore;
  /** Where avatars and exports live; without it the purge removes database rows only. */
  storage?: AccountFileStorage;
  /** Base of links in mail (PUBLIC_URL). */
  publicUrl: string;
  /** HMAC key of audit-log pseudonyms (at least 32 bytes; derive it from ENCRYPTION_KEYS). Never change it. */
  pseudonymKey: Buffer;
  /** The re-authentication step; default: {@link createCurrentPasswordCheck} over the options above. */
  checkPassword?: CurrentPasswordCheck;
  /** Receives failures of best-effort work (mail after the change, a user's failed purge). */
  logger?: LeavingLogger;
  now?: () => Date;
}

const reactivationMailKey = (userId: string) => `account-reactivation-mail:${userId}`;

function badInput(reason: LeavingErrorCode, message: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
}

const nameOf = (account: { displayName: string | null }) =>
  account.displayName ? { name: account.displayName } : {};

export function createLeavingService(options: LeavingServiceOptions): LeavingService {
  const { accounts, sessions, mailer, audit, kv, storage, logger } = options;
  const publicUrl = options.publicUrl.replace(/\/+$/, '');
  const now = options.now ?? (() => new Date());
  if (options.pseudonymKey.length < MIN_PSEUDONYM_KEY_BYTES) {
    throw new RangeError(`pseudonymKey must be at least ${MIN_PSEUDONYM_KEY_BYTES} bytes`);
  }
  const pseudonymKey = Buffer.from(options.pseudonymKey);
  const { repository } = options;
  const checkPassword =
    options.checkPassword ??
    createCurrentPasswordCheck({
      accounts,
      hasher: options.hasher,
      guard: options.guard,
      audit,
      mailer,
    });

  async function liveAccount(userId: string): Promise<AccountRecord> {
    const account = await accounts.findById(userId);
    if (!account) throw badInput(LeavingErrorCode.ACCOUNT_NOT_FOUND, 'The account no longer exists');
    return account;
  }

  /** Mail about a change already made: its failure must not report the change as failed. */
  async function mailAfterTheFact(what: string, userId: string, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (err) {
      logger?.warn({ err, userId }, `leaving: could not queue the ${what} mail`);
    }
  }

  /** True when no reactivation mail went out recently; a KV outage lets the mail through (lockout still applies). */
  async function mayMailReactivation(userId: string): Promise<boolean> {
    try {
      return await kv.set(reactivationMailKey(userId), '1', {
        ttlSeconds: REACTIVATION_MAIL_INTERVAL_SECONDS,
        onlyIfAbsent: true,
      });
    } catch (err) {
      logger?.warn({ err, userId }, 'leaving: KV unavailable, reactivation mail not throttled');
      return true;
    }
  }

  async function removeFiles({ userId }: PurgeCandidate): Promise<void> {
    if (!storage) return;
    await storage.deletePrefix(avatarStoragePrefix(userId));
    await storage.deletePrefix(exportStoragePrefix(userId));
  }

  /** The deletion itself, after the caller proved the right to it (the password, or `users:write`). */
  async function markDeleted(
    account: AccountRecord,
    actorUserId: string,
    client: ClientInfo,
  ): Promise<{ purgeAt: Date }> {
    const at = now();
    if (!(await repository.markDeleted(account.id, at))) {
      throw badInput(LeavingErrorCode.ACCOUNT_NOT_FOUND, 'The account no longer exists');
    }
    const purgeAt = new Date(at.getTime() + PURGE_AFTER_DAYS * DAY_MS);
    const revoked = await sessions.revokeAllSessions(account.id, 'ACCOUNT_DELETED');
    await repository.deleteReactivationTokens(account.id);
    await audit.record({
      action: AuditAction.ACCOUNT_DELETED,
      outcome: 'SUCCESS',
      actorUserId,
      targetType: 'User',
      targetId: account.id,
      ...auditClientFields(client),
      metadata: {
        sessionsRevoked: revoked,
        purgeAt: purgeAt.toISOString(),
        ...(actorUserId === account.id ? {} : { byAdmin: true }),
      },
    });
    await mailAfterTheFact('account-deleted', account.id, () =>
      mailer.send({
        to: account.email,
        template: 'account-deleted',
        userId: account.id,
        data: { ...nameOf(account), at, purgeAt },
      }),
    );
    return { purgeAt };
  }

  return {
    async deactivate(userId, password, client) {
      const account = await liveAccount(userId);
      await checkPassword(account, password, client, AuditAction.ACCOUNT_DEACTIVATED);
      if (!(await repository.deactivate(account.id))) {
        throw badInput(LeavingErrorCode.ACCOUNT_NOT_ACTIVE, 'Only an active account can be deactivated');
      }
      const at = now();
      const revoked = await sessions.revokeAllSessions(account.id, 'ACCOUNT_DEACTIVATED');
      // Links from an earlier deactivation must not bring this one back.
      await repository.deleteReactivationTokens(account.id);
      await audit.record({
        action: AuditAction.ACCOUNT_DEACTIVATED,
        outcome: 'SUCCESS',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ...auditClientFields(client),
        metadata: { sessionsRevoked: revoked },
      });
      await mailAfterTheFact('account-deactivated', account.id, () =>
        mailer.send({
          to: account.email,
          template: 'account-deactivated',
          userId: account.id,
          data: {
            ...nameOf(account),
            at,
            ...(client.ip ? { ip: client.ip } : {}),
            signInUrl: `${publicUrl}/sign-in`,
            resetUrl: `${publicUrl}/forgot-password`,
          },
        }),
      );
    },

    async requestReactivation(account, client) {
      if (account.status !== 'DEACTIVATED') return { mailed: false };
      if (!(await mayMailReactivation(account.id))) return { mailed: false };
      const token = generateToken(32);
      const expiresAt = new Date(now().getTime() + REACTIVATION_TOKEN_TTL_HOURS * 3600_000);
      const tokenId = await repository.replaceReactivationToken({
        userId: account.id,
        email: account.email,
        tokenHash: REACTIVATION_TOKEN_HASH_PREFIX + hashToken(token),
        expiresAt,
      });
      await mailer.send({
        to: account.email,
        template: 'account-reactivate',
        userId: account.id,
        idempotencyKey: `account-reactivate:${tokenId}`,
        data: {
          ...nameOf(account),
          reactivateUrl: `${publicUrl}/reactivate-account?token=${encodeURIComponent(token)}`,
          expiresInHours: REACTIVATION_TOKEN_TTL_HOURS,
          ...(client.ip ? { ip: client.ip } : {}),
        },
      });
      await audit.record({
        action: AuditAction.ACCOUNT_REACTIVATION_REQUESTED,
        outcome: 'SUCCESS',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ...auditClientFields(client),
      });
      return { mailed: true };
    },

    async reactivate(token, client) {
      if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) {
        throw badInput(LeavingErrorCode.REACTIVATION_TOKEN_INVALID, 'The reactivation link is not valid');
      }
      const outcome = await repository.consumeReactivationToken(
        REACTIVATION_TOKEN_HASH_PREFIX + hashToken(token),
        now(),
      );
      if (outcome.status === 'expired') {
        throw badInput(LeavingErrorCode.REACTIVATION_TOKEN_EXPIRED, 'The reactivation link has expired');
      }
      if (outcome.status === 'used') {
        throw badInput(LeavingErrorCode.REACTIVATION_TOKEN_USED, 'The reactivation link was already used');
      }
      if (outcome.status !== 'reactivated') {
        throw badInput(LeavingErrorCode.REACTIVATION_TOKEN_INVALID, 'The reactivation link is not valid');
      }
      await kv.delete(reactivationMailKey(outcome.userId)).catch(() => undefined);
      await audit.record({
        action: AuditAction.ACCOUNT_REACTIVATED,
        outcome: 'SUCCESS',
        actorUserId: outcome.userId,
        targetType: 'User',
        targetId: outcome.userId,
        ...auditClientFields(client),
      });
      return { userId: outcome.userId };
    },

    async delete(userId, password, client) {
      const account = await liveAccount(userId);
      await checkPassword(account, password, client, AuditAction.ACCOUNT_DELETED);
      return markDeleted(account, account.id, client);
    },

    async deleteByAdmin(userId, adminUserId, client) {
      return markDeleted(await liveAccount(userId), adminUserId, client);
    },

    async purgeDeleted({ olderThanDays = PURGE_AFTER_DAYS } = {}) {
      if (!(olderThanDays >= 0)) throw new RangeError('olderThanDays must be >= 0');
      const started = now();
      const cutoff = new Date(started.getTime() - olderThanDays * DAY_MS);
      const failedIds: string[] = [];
      let purged = 0;
      for (;;) {
        let candidateId: string | undefined;
        try {
          const done = await repository.purgeNext({
            cutoff,
            now: now(),
            skip: failedIds,
            pseudonym: (id) => pseudonymizeUserId(pseudonymKey, id),
            beforeWrite: async (candidate) => {
              candidateId = candidate.userId;
              await removeFiles(candidate);
            },
          });
          if (!done) break;
          purged += 1;
          logger?.info?.(
            { pseudonym: done.pseudonym, counts: done.counts },
            'leaving: purged a deleted account',
          );
        } catch (err) {
          // Without a candidate the query itself failed: nothing to skip, so stop instead of looping.
          if (candidateId === undefined) throw err;
          failedIds.push(candidateId);
          logger?.error({ err, userId: candidateId }, 'leaving: purging a deleted account failed');
        }
      }
      return { purged, failed: failedIds.length };
    },
  };
}
