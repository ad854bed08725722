import type { PrismaClient } from '@gatehouse/db';
import { AuditAction } from '../audit';

/**
 * Reactivation tokens live in `verification_tokens` (durable, single use, cascade-deleted with the user), with
 * this prefix in front of the sha256 hex in `token_hash`. The prefix separates them from the e-mail verification
 * and e-mail change tokens of the same table: neither flow can consume a reactivation token nor this one theirs
 * (their hashes are bare hex), and this module can find and replace its own rows without touching theirs.
 */
export const REACTIVATION_TOKEN_HASH_PREFIX = 'account-reactivation:';

/** The anonymised address a purged user row keeps (the row stays: billing records reference it). */
export const purgedEmail = (userId: string) => `deleted-${userId}@deleted.invalid`;

/** What anonymised mail deliveries keep as their recipient. */
export const REDACTED_RECIPIENT = 'redacted@deleted.invalid';

/**
 * Top-level metadata keys removed from a purged user's audit entries: places where an address, a phone number,
 * a name or a network location may have been recorded. The action, outcome and reasons stay.
 */
export const PERSONAL_AUDIT_METADATA_KEYS = [
  'email',
  'oldEmail',
  'newEmail',
  'previousEmail',
  'phone',
  'phoneNumber',
  'name',
  'displayName',
  'ip',
  'ipAddress',
  'userAgent',
  'device',
  'location',
] as const;

export type ConsumedReactivationToken =
  { status: 'reactivated'; userId: string } | { status: 'unknown' | 'expired' | 'used' };

/** Rows removed or anonymised while purging one user, by table (goes into the ACCOUNT_PURGED audit entry). */
export interface PurgeCounts {
  userProfiles: number;
  oauthAccounts: number;
  sessions: number;
  verificationTokens: number;
  passwordResetTokens: number;
  passwordHistory: number;
  mfaFactors: number;
  backupCodes: number;
  notificationPreferences: number;
  unsubscribeReceipts: number;
  dataExports: number;
  paymentMethods: number;
  userRoles: number;
  emailDeliveries: number;
  auditLogs: number;
}

/** One user selected for purging, locked for the duration of {@link LeavingRepository.purgeNext}'s callback. */
export interface PurgeCandidate {
  userId: string;
  deletedAt: Date;
}

export interface LeavingRepository {
  /** ACTIVE -> DEACTIVATED; false when the account is not (or no longer) active. */
  deactivate(userId: string): Promise<boolean>;
  /** Any live state -> DELETED with `deleted_at`; false when it was already deleted. */
  markDeleted(userId: string, at: Date): Promise<boolean>;
  /** Stores a reactivation token (its hash) and drops the user's older ones: only the newest link works. */
  replaceReactivationToken(input: {
    userId: string;
    email: string;
    tokenHash: string;
    expiresAt: Date;
  }): Promise<string>;
  /** Drops every reactivation token of the user (used or not). */
  deleteReactivationTokens(userId: string): Promise<void>;
  /**
   * In one transaction: consumes the token (exactly one of two concurrent uses wins), switches a DEACTIVATED account
   * back to ACTIVE, and drops the user's other reactivation links. An account that is no longer deactivated
   * (suspended or deleted meanwhile) leaves the token unused and answers `unknown`.
   */
  consumeReactivationToken(tokenHash: string, now: Date): Promise<ConsumedReactivationToken>;
  /**
   * Locks the next user deleted at or before `cutoff` and not purged yet (skipping users another purge holds and
   * those in `skip`), runs `beforeWrite` (removing the user's files) and then anonymises and deletes their data,
   * all in ONE transaction: a failure anywhere leaves the user to the next run.
   * @returns the purged user and counts, or null when none is left.
   */
  purgeNext(input: {
    cutoff: Date;
    now: Date;
    skip: readonly string[];
    pseudonym: (userId: string) => string;
    beforeWrite: (candidate: PurgeCandidate) => Promise<void>;
  }): Promise<{ candidate: PurgeCandidate; pseudonym: string; counts: PurgeCounts } | null>;
}

/** Prisma's interactive transactions default to 5 s; a purge also waits for object storage. */
const PURGE_TRANSACTION_TIMEOUT_MS = 120_000;

export function createLeavingRepository(prisma: PrismaClient): LeavingRepository {
  const reactivationTokens = (userId: string) => ({
    userId,
    tokenHash: { startsWith: REACTIVATION_TOKEN_HASH_PREFIX },
  });

  return {
    async deactivate(userId) {
      const { count } = await prisma.user.updateMany({
        where: { id: userId, status: 'ACTIVE', deletedAt: null },
        data: { status: 'DEACTIVATED' },
      });
      return count === 1;
    },

    async markDeleted(userId, at) {
      const { count } = await prisma.user.updateMany({
        where: { id: userId, deletedAt: null },
        data: { status: 'DELETED', deletedAt: at },
      });
      return count === 1;
    },

    async replaceReactivationToken({ userId, email, tokenHash, expiresAt }) {
      const [, created] = await prisma.$transaction([
        prisma.verificationToken.deleteMany({ where: reactivationTokens(userId) }),
        prisma.verificationToken.create({
          data: { userId, email, tokenHash, expiresAt },
          select: { id: true },
        }),
      ]);
      return created.id;
    },

    async deleteReactivationTokens(userId) {
      await prisma.verificationToken.deleteMany({ where: reactivationTokens(userId) });
    },

    async consumeReactivationToken(tokenHash, now) {
      const outcome = await prisma
        .$transaction(async (tx) => {
          const consumed = await tx.$queryRaw<{ user_id: string }[]>`
          UPDATE "verification_tokens" SET consumed_at = ${now}::timestamptz
          WHERE token_hash = ${tokenHash} AND consumed_at IS NULL AND expires_at > ${now}::timestamptz
          RETURNING user_id`;
          const userId = consumed[0]?.user_id;
          if (!userId) return null;
          const reactivated = await tx.user.updateMany({
            where: { id: userId, status: 'DEACTIVATED', deletedAt: null },
            data: { status: 'ACTIVE' },
          });
          // Thrown to roll the consumption back: the link stays as it was for an account we did not touch.
          if (reactivated.count === 0) throw new NotDeactivated();
          await tx.verificationToken.deleteMany({
            where: { userId, tokenHash: { startsWith: REACTIVATION_TOKEN_HASH_PREFIX, not: tokenHash } },
          });
          return userId;
        })
        .catch((error: unknown) => {
          if (error instanceof NotDeactivated) return 'not-deactivated' as const;
          throw error;
        });
      if (outcome === 'not-deactivated') return { status: 'unknown' };
      if (outcome) return { status: 'reactivated', userId: outcome };
      const existing = await prisma.verificationToken.findUnique({
        where: { tokenHash },
        select: { consumedAt: true },
      });
      if (!existing) return { status: 'unknown' };
      return { status: existing.consumedAt ? 'used' : 'expired' };
    },

    async purgeNext({ cutoff, now, skip, pseudonym, beforeWrite }) {
      return prisma.$transaction(
        async (tx) => {
          // SKIP LOCKED: concurrent purges (two replicas, a retried job) each take a different user, never the same.
          const rows = await tx.$queryRaw<{ id: string; email: string; deleted_at: Date }[]>`
            SELECT id, email, deleted_at FROM "users"
            WHERE status = 'DELETED' AND deleted_at <= ${cutoff}::timestamptz
              AND email <> 'deleted-' || id::text || '@deleted.invalid'
              AND NOT (id = ANY(${[...skip]}::uuid[]))
            ORDER BY deleted_at, id
            LIMIT 1
            FOR UPDATE SKIP LOCKED`;
          const row = rows[0];
          if (!row) return null;
          const userId = row.id;
          const candidate: PurgeCandidate = { userId, deletedAt: row.deleted_at };
          await beforeWrite(candidate);

          const alias = pseudonym(userId);
          const counts: PurgeCounts = {
            userProfiles: await tx.$executeRaw`DELETE FROM "user_profiles" WHERE user_id = ${userId}::uuid`,
            oauthAccounts: await tx.$executeRaw`DELETE FROM "oauth_accounts" WHERE user_id = ${userId}::uuid`,
            sessions: await tx.$executeRaw`DELETE FROM "sessions" WHERE user_id = ${userId}::uuid`,
            verificationTokens:
              await tx.$executeRaw`DELETE FROM "verification_tokens" WHERE user_id = ${userId}::uuid`,
            passwordResetTokens:
              await tx.$executeRaw`DELETE FROM "password_reset_tokens" WHERE user_id = ${userId}::uuid`,
            passwordHistory:
              await tx.$executeRaw`DELETE FROM "password_history" WHERE user_id = ${userId}::uuid`,
            mfaFactors: await tx.$executeRaw`DELETE FROM "mfa_factors" WHERE user_id = ${userId}::uuid`,
            backupCodes: await tx.$executeRaw`DELETE FROM "backup_codes" WHERE user_id = ${userId}::uuid`,
            notificationPreferences:
              await tx.$executeRaw`DELETE FROM "notification_preferences" WHERE user_id = ${userId}::uuid`,
            unsubscribeReceipts:
              await tx.$executeRaw`DELETE FROM "unsubscribe_receipts" WHERE user_id = ${userId}::uuid`,
            dataExports: await tx.$executeRaw`DELETE FROM "data_exports" WHERE user_id = ${userId}::uuid`,
            // payments.payment_method_id is ON DELETE SET NULL: the payments themselves stay.
            paymentMethods:
              await tx.$executeRaw`DELETE FROM "payment_methods" WHERE user_id = ${userId}::uuid`,
            userRoles: await tx.$executeRaw`DELETE FROM "user_roles" WHERE user_id = ${userId}::uuid`,
            // Also mails sent to the address without a user id (the registration notice, say). The payload holds
            // names and links, the last error may quote the address.
            emailDeliveries: await tx.$executeRaw`
              UPDATE "email_deliveries"
              SET recipient = ${REDACTED_RECIPIENT}, user_id = NULL, payload_encrypted = NULL, last_error = NULL,
                  updated_at = ${now}::timestamptz
              WHERE user_id = ${userId}::uuid OR (user_id IS NULL AND recipient = ${row.email})`,
            auditLogs: await tx.$executeRaw`
              UPDATE "audit_logs"
              SET actor_user_id = CASE WHEN actor_user_id = ${userId}::uuid THEN ${alias}::uuid ELSE actor_user_id END,
                  target_id = CASE WHEN target_type = 'User' AND target_id = ${userId} THEN ${alias} ELSE target_id END,
                  ip_address = NULL,
                  user_agent = NULL,
                  metadata = metadata - ${[...PERSONAL_AUDIT_METADATA_KEYS]}::text[]
              WHERE actor_user_id = ${userId}::uuid OR (target_type = 'User' AND target_id = ${userId})`,
          };
          // The row stays (invoices, payments and subscriptions reference it) with nothing personal left.
          await tx.$executeRaw`
            UPDATE "users"
            SET email = ${purgedEmail(userId)}, email_verified = false, email_verified_at = NULL,
                password_hash = NULL, password_changed_at = NULL, mfa_enabled = false, mfa_enabled_at = NULL,
                failed_login_count = 0, last_failed_login_at = NULL, locked_until = NULL, last_login_at = NULL,
                updated_at = ${now}::timestamptz
            WHERE id = ${userId}::uuid`;
          await tx.auditLog.create({
            data: {
              createdAt: now,
              action: AuditAction.ACCOUNT_PURGED,
              actorUserId: null,
              targetType: 'User',
              targetId: alias,
              metadata: { outcome: 'SUCCESS', deletedAt: row.deleted_at.toISOString(), ...counts },
            },
            select: { id: true },
          });
          return { candidate, pseudonym: alias, counts };
        },
        { timeout: PURGE_TRANSACTION_TIMEOUT_MS, maxWait: 10_000 },
      );
    },
  };
}

/** Internal: rolls back a reactivation whose account is no longer deactivated. */
class NotDeactivated extends Error {}
