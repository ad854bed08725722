import { containsPattern, Prisma, type PrismaClient, type UserStatus } from '@gatehouse/db';
import { ADMIN_ROLE, isUuid } from '@gatehouse/service';
import type { UserModel } from '../models';

/** A validated filter over users (see `AdminService.listUsers`). Every member narrows the result (AND). */
export interface AdminUserFilter {
  status?: UserStatus;
  /** Users granted this role (by name) directly, globally (`scope = '*'`) and unexpired. */
  roleName?: string;
  emailVerified?: boolean;
  mfaEnabled?: boolean;
  /** Inclusive lower bound of `created_at`. */
  createdFrom?: Date;
  /** Exclusive upper bound of `created_at`. */
  createdTo?: Date;
  /** Case-insensitive substring of the email or display name, or the exact id. */
  search?: string;
}

/** Position after which a page starts: the (created_at, id) of the last user already seen. */
export interface AdminUserPosition {
  createdAt: Date;
  id: string;
}

/** Sign-in facts of a user an administrator (or the user) may read; never credentials. */
export interface UserSecurityFacts {
  userId: string;
  mfaEnabled: boolean;
  lastLoginAt: Date | null;
  lockedUntil: Date | null;
}

/** A provider link as the admin API shows it (no provider tokens). */
export interface LinkedAccountRow {
  userId: string;
  provider: string;
  email: string | null;
  linkedAt: Date;
}

/** What impersonation must know about its target. */
export interface ImpersonationTarget {
  id: string;
  email: string;
  status: UserStatus;
}

/** The only place the admin API touches PostgreSQL. */
export interface AdminUserRepository {
  /** Up to `limit` live users matching `filter`, newest first (created_at DESC, id DESC), strictly after `after`. */
  page(filter: AdminUserFilter, limit: number, after?: AdminUserPosition): Promise<UserModel[]>;
  /** Security facts of live users with these ids (malformed ids skipped). */
  securityFacts(userIds: readonly string[]): Promise<UserSecurityFacts[]>;
  /** Provider links of these users, oldest first. */
  linkedAccounts(userIds: readonly string[]): Promise<LinkedAccountRow[]>;
  /** A live user; null when unknown, malformed or deleted. */
  findTarget(userId: string): Promise<ImpersonationTarget | null>;
  /**
   * Sets the status of a live user unless it already has it (a PENDING_VERIFICATION or DEACTIVATED account can be
   * suspended; activating marks nothing verified). @returns the previous status, or null when no live user matched.
   */
  setStatus(
    userId: string,
    status: Extract<UserStatus, 'ACTIVE' | 'SUSPENDED'>,
  ): Promise<UserStatus | null | typeof LAST_ADMIN>;
  /** Whether the user is the only ACTIVE, not deleted holder of a current global `admin` grant. */
  isLastActiveAdmin(userId: string): Promise<boolean>;
}

/** `setStatus` refused: suspending this user would leave no active administrator. */
export const LAST_ADMIN = 'LAST_ADMIN' as const;

/**
 * Whether `userId` is the only active holder of `admin`. Inside a transaction that locked the admin role row
 * (`FOR NO KEY UPDATE`, as access-control's removeRole does) the answer holds until the commit.
 */
async function lastActiveAdmin(db: Pick<PrismaClient, '$queryRaw'>, userId: string): Promise<boolean> {
  const rows = await db.$queryRaw<{ holds: boolean; others: number }[]>`
    WITH holders AS (
      SELECT DISTINCT ur.user_id
        FROM "user_roles" ur
        JOIN "roles" r ON r.id = ur.role_id AND r.name = ${ADMIN_ROLE} AND r.is_system
        JOIN "users" u ON u.id = ur.user_id AND u.status = 'ACTIVE' AND u.deleted_at IS NULL
       WHERE ur.scope = '*' AND (ur.expires_at IS NULL OR ur.expires_at > now())
    )
    SELECT EXISTS (SELECT 1 FROM holders WHERE user_id = ${userId}::uuid) AS holds,
           (SELECT count(*)::int FROM holders WHERE user_id <> ${userId}::uuid) AS others`;
  const row = rows[0];
  return row !== undefined && row.holds && row.others === 0;
}

function whereClause(filter: AdminUserFilter, after?: AdminUserPosition): Prisma.Sql {
  const conditions: Prisma.Sql[] = [Prisma.sql`u.deleted_at IS NULL`];
  if (filter.status !== undefined) conditions.push(Prisma.sql`u.status = ${filter.status}::user_status`);
  if (filter.emailVerified !== undefined) {
    conditions.push(Prisma.sql`u.email_verified = ${filter.emailVerified}`);
  }
  if (filter.mfaEnabled !== undefined) conditions.push(Prisma.sql`u.mfa_enabled = ${filter.mfaEnabled}`);
  if (filter.createdFrom !== undefined) {
    conditions.push(Prisma.sql`u.created_at >= ${filter.createdFrom}::timestamptz`);
  }
  if (filter.createdTo !== undefined) {
    conditions.push(Prisma.sql`u.created_at < ${filter.createdTo}::timestamptz`);
  }
  if (filter.roleName !== undefined) {
    conditions.push(Prisma.sql`EXISTS (
      SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
       WHERE ur.user_id = u.id AND r.name = ${filter.roleName} AND ur.scope = '*'
         AND (ur.expires_at IS NULL OR ur.expires_at > now()))`);
  }
  if (filter.search !== undefined) {
    const pattern = containsPattern(filter.search);
    const matches = [
      Prisma.sql`u.email ILIKE ${pattern} ESCAPE '!'`,
      Prisma.sql`EXISTS (SELECT 1 FROM user_profiles p
                          WHERE p.user_id = u.id AND p.display_name ILIKE ${pattern} ESCAPE '!')`,
    ];
    if (isUuid(filter.search)) matches.push(Prisma.sql`u.id = ${filter.search.toLowerCase()}::uuid`);
    conditions.push(Prisma.sql`(${Prisma.join(matches, ' OR ')})`);
  }
  if (after !== undefined) {
    conditions.push(Prisma.sql`(u.created_at, u.id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
  }
  return Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}`;
}

export function createAdminUserRepository(prisma: PrismaClient): AdminUserRepository {
  return {
    page(filter, limit, after) {
      return prisma.$queryRaw<UserModel[]>`
        SELECT u.id::text AS "id", u.email, u.email_verified AS "emailVerified", u.status::text AS "status",
               u.created_at AS "createdAt"
          FROM users u
          ${whereClause(filter, after)}
         ORDER BY u.created_at DESC, u.id DESC
         LIMIT ${limit}`;
    },

    async securityFacts(userIds) {
      const ids = userIds.filter(isUuid);
      if (ids.length === 0) return [];
      const rows = await prisma.user.findMany({
        where: { id: { in: ids }, deletedAt: null },
        select: { id: true, mfaEnabled: true, lastLoginAt: true, lockedUntil: true },
      });
      return rows.map(({ id, ...facts }) => ({ userId: id, ...facts }));
    },

    async linkedAccounts(userIds) {
      const ids = userIds.filter(isUuid);
      if (ids.length === 0) return [];
      const rows = await prisma.oAuthAccount.findMany({
        where: { userId: { in: ids } },
        select: { userId: true, provider: true, email: true, createdAt: true },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      return rows.map(({ createdAt, ...row }) => ({ ...row, linkedAt: createdAt }));
    },

    async findTarget(userId) {
      if (!isUuid(userId)) return null;
      return prisma.user.findFirst({
        where: { id: userId, deletedAt: null },
        select: { id: true, email: true, status: true },
      });
    },

    async isLastActiveAdmin(userId) {
      return isUuid(userId) && lastActiveAdmin(prisma, userId);
    },

    async setStatus(userId, status) {
      if (!isUuid(userId)) return null;
      return prisma.$transaction(async (tx) => {
        if (status === 'SUSPENDED') {
          // Serialised with access-control's removal of `admin` and other suspensions: two of them cannot each
          // count the other as the remaining administrator.
          await tx.$queryRaw`SELECT id FROM "roles" WHERE name = ${ADMIN_ROLE} AND is_system FOR NO KEY UPDATE`;
          if (await lastActiveAdmin(tx, userId)) return LAST_ADMIN;
        }
        // One statement: the previous status is read and replaced atomically (no lost update between two admins).
        const rows = await tx.$queryRaw<{ previous: UserStatus }[]>`
          UPDATE users u SET status = ${status}::user_status, updated_at = now()
            FROM (SELECT id, status FROM users WHERE id = ${userId}::uuid AND deleted_at IS NULL FOR UPDATE) old
           WHERE u.id = old.id
          RETURNING old.status::text AS "previous"`;
        return rows[0]?.previous ?? null;
      });
    },
  };
}
