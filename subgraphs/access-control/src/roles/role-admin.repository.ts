import { createAuditWriter } from '@gatehouse/audit';
import type { Prisma, PrismaClient } from '@gatehouse/db';
import { isPrismaKnownRequestError } from '@gatehouse/errors';
import { isUuid } from '@gatehouse/service';
import { AccessControlErrorCode, accessControlError } from './error-codes';
import type { RoleModel } from '../models';
import type { RoleAuditAction, RoleAuditEntry } from './role-audit';

const roleColumns = { id: true, name: true, description: true, isSystem: true, parentRoleId: true } as const;

/** The columns of a role that a change may set. */
export interface RoleFields {
  name: string;
  description: string | null;
  parentRoleId: string | null;
}

/** A user's global (`scope = '*'`) grant of one role, expired or not. */
export interface GlobalGrant {
  id: string;
  expiresAt: Date | null;
}

/**
 * The writes of role management, inside one transaction. Constraint violations surface as the matching
 * access-control errors (a duplicate name as ROLE_NAME_TAKEN, a vanished parent as ROLE_NOT_FOUND, ...).
 */
export interface RoleWriteUnit {
  /**
   * Locks every role row (`FOR NO KEY UPDATE`, in id order so concurrent callers cannot deadlock) until the
   * transaction ends: hierarchy changes run one at a time, so two of them cannot together build a cycle that
   * neither saw. Grants (`FOR KEY SHARE` through their foreign key) are not blocked.
   */
  lockAllRoles(): Promise<void>;
  /**
   * Locks one role until the transaction ends and returns it (null when there is none): `share` keeps it from
   * being deleted (`FOR KEY SHARE`, what inserting a grant takes anyway), `update` serialises changes to it
   * (`FOR NO KEY UPDATE`), `delete` excludes everything else (`FOR UPDATE`).
   */
  lockRole(id: string, mode: 'share' | 'update' | 'delete'): Promise<RoleModel | null>;
  findRole(id: string): Promise<RoleModel | null>;
  /** The role and its ancestors, nearest first (stops at a repeated role instead of looping). */
  chainOf(roleId: string): Promise<string[]>;
  /** Every permission key the roles grant, directly or through their ancestors, sorted. */
  effectiveKeysOfRoles(roleIds: readonly string[]): Promise<string[]>;
  /** Keys granted directly by the role, sorted. */
  directKeysOf(roleId: string): Promise<string[]>;
  /** Ids of the registry permissions with these keys; unknown keys are absent from the map. */
  permissionIdsByKey(keys: readonly string[]): Promise<Map<string, string>>;
  insertRole(fields: RoleFields): Promise<RoleModel>;
  updateRole(id: string, fields: Partial<RoleFields>): Promise<RoleModel>;
  /** Replaces the role's direct permissions. */
  setPermissions(roleId: string, permissionIds: readonly string[]): Promise<void>;
  deleteRole(id: string): Promise<void>;
  /** Users holding the role now (unexpired grants) and roles inheriting from it directly. */
  usageOf(roleId: string, now: Date): Promise<{ holders: number; children: number }>;
  findGlobalGrant(userId: string, roleId: string): Promise<GlobalGrant | null>;
  /**
   * Whether the user exists and is not deleted (no `deleted_at`, status not DELETED), keeping the row from being
   * deleted until the transaction ends (`FOR KEY SHARE`; status changes are not blocked).
   */
  isLiveUser(userId: string): Promise<boolean>;
  /**
   * Users other than `exceptUserId` holding the role globally now (unexpired) whose account is ACTIVE and not
   * deleted. Lock the role (`update`) first so two removals cannot both count the other.
   */
  activeHoldersExcept(roleId: string, exceptUserId: string, now: Date): Promise<number>;
  /** Whether the user's account is ACTIVE and not deleted. */
  isActiveUser(userId: string): Promise<boolean>;
  /** @throws USER_NOT_FOUND when the user does not exist (the role must be locked beforehand). */
  insertGlobalGrant(grant: {
    userId: string;
    roleId: string;
    expiresAt: Date | null;
    grantedById: string;
  }): Promise<void>;
  deleteGrant(grantId: string): Promise<void>;
  /** Records the change in the audit trail, in this transaction. */
  audit(entry: RoleAuditEntry): Promise<void>;
}

export interface RoleAdminRepository {
  /** Runs `work` in one transaction: every write and its audit entry commit together or not at all. */
  transaction<T>(work: (unit: RoleWriteUnit) => Promise<T>): Promise<T>;
}

function constraintViolation(err: unknown, code: string): boolean {
  return isPrismaKnownRequestError(err) && err.code === code;
}

/** Unique violation (P2002) of `roles.name`: the only unique column a role change writes. */
function nameTakenOr(err: unknown): unknown {
  return constraintViolation(err, 'P2002')
    ? accessControlError(AccessControlErrorCode.ROLE_NAME_TAKEN, 'Another role already has this name')
    : err;
}

function createUnit(tx: Prisma.TransactionClient): RoleWriteUnit {
  const findRole = async (id: string) =>
    isUuid(id) ? tx.role.findUnique({ where: { id }, select: roleColumns }) : null;
  return {
    async lockAllRoles() {
      await tx.$queryRaw`SELECT id FROM "roles" ORDER BY id FOR NO KEY UPDATE`;
    },
    async lockRole(id, mode) {
      if (!isUuid(id)) return null;
      // Lock clauses cannot be parameters: one fixed statement per mode.
      const rows = await (mode === 'delete'
        ? tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM "roles" WHERE id = ${id}::uuid FOR UPDATE`
        : mode === 'update'
          ? tx.$queryRaw<
              { id: string }[]
            >`SELECT id::text FROM "roles" WHERE id = ${id}::uuid FOR NO KEY UPDATE`
          : tx.$queryRaw<
              { id: string }[]
            >`SELECT id::text FROM "roles" WHERE id = ${id}::uuid FOR KEY SHARE`);
      return rows.length === 0 ? null : findRole(id);
    },
    findRole,
    async chainOf(roleId) {
      if (!isUuid(roleId)) return [];
      const rows = await tx.$queryRaw<{ id: string }[]>`
        WITH RECURSIVE chain AS (
          SELECT id, parent_role_id, 0 AS depth, ARRAY[id] AS seen FROM "roles" WHERE id = ${roleId}::uuid
          UNION ALL
          SELECT p.id, p.parent_role_id, c.depth + 1, c.seen || p.id
            FROM chain c JOIN "roles" p ON p.id = c.parent_role_id
           WHERE NOT p.id = ANY(c.seen)
        )
        SELECT id::text FROM chain ORDER BY depth`;
      return rows.map((row) => row.id);
    },
    async effectiveKeysOfRoles(roleIds) {
      const valid = roleIds.filter(isUuid);
      if (valid.length === 0) return [];
      const rows = await tx.$queryRaw<{ key: string }[]>`
        WITH RECURSIVE chain AS (
          SELECT id, parent_role_id FROM "roles" WHERE id = ANY(${valid}::uuid[])
          UNION
          SELECT p.id, p.parent_role_id FROM chain c JOIN "roles" p ON p.id = c.parent_role_id
        )
        SELECT DISTINCT pm.key
          FROM chain c
          JOIN "role_permissions" rp ON rp.role_id = c.id
          JOIN "permissions" pm ON pm.id = rp.permission_id
         ORDER BY 1`;
      return rows.map((row) => row.key);
    },
    async directKeysOf(roleId) {
      const rows = await tx.rolePermission.findMany({
        where: { roleId },
        select: { permission: { select: { key: true } } },
        orderBy: { permission: { key: 'asc' } },
      });
      return rows.map((row) => row.permission.key);
    },
    async permissionIdsByKey(keys) {
      if (keys.length === 0) return new Map();
      const rows = await tx.permission.findMany({
        where: { key: { in: [...keys] } },
        select: { id: true, key: true },
      });
      return new Map(rows.map((row) => [row.key, row.id]));
    },
    async insertRole(fields) {
      try {
        return await tx.role.create({ data: { ...fields, isSystem: false }, select: roleColumns });
      } catch (err) {
        if (constraintViolation(err, 'P2003')) {
          throw accessControlError(AccessControlErrorCode.ROLE_NOT_FOUND, 'The parent role does not exist');
        }
        throw nameTakenOr(err);
      }
    },
    async updateRole(id, fields) {
      try {
        return await tx.role.update({ where: { id }, data: fields, select: roleColumns });
      } catch (err) {
        if (constraintViolation(err, 'P2003')) {
          throw accessControlError(AccessControlErrorCode.ROLE_NOT_FOUND, 'The parent role does not exist');
        }
        throw nameTakenOr(err);
      }
    },
    async setPermissions(roleId, permissionIds) {
      await tx.rolePermission.deleteMany({ where: { roleId, permissionId: { notIn: [...permissionIds] } } });
      await tx.rolePermission.createMany({
        data: permissionIds.map((permissionId) => ({ roleId, permissionId })),
        skipDuplicates: true,
      });
    },
    async deleteRole(id) {
      await tx.role.delete({ where: { id } });
    },
    async usageOf(roleId, now) {
      const [holders, children] = await Promise.all([
        tx.userRole.count({ where: { roleId, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] } }),
        tx.role.count({ where: { parentRoleId: roleId } }),
      ]);
      return { holders, children };
    },
    async findGlobalGrant(userId, roleId) {
      if (!isUuid(userId) || !isUuid(roleId)) return null;
      return tx.userRole.findUnique({
        where: { userId_roleId_scope: { userId, roleId, scope: '*' } },
        select: { id: true, expiresAt: true },
      });
    },
    async isLiveUser(userId) {
      if (!isUuid(userId)) return false;
      const rows = await tx.$queryRaw<{ live: boolean }[]>`
        SELECT (deleted_at IS NULL AND status <> 'DELETED') AS live
          FROM "users" WHERE id = ${userId}::uuid FOR KEY SHARE`;
      return rows[0]?.live ?? false;
    },
    async activeHoldersExcept(roleId, exceptUserId, now) {
      if (!isUuid(roleId)) return 0;
      const except = isUuid(exceptUserId) ? exceptUserId : null;
      const rows = await tx.$queryRaw<{ holders: number }[]>`
        SELECT count(DISTINCT ur.user_id)::int AS holders
          FROM "user_roles" ur JOIN "users" u ON u.id = ur.user_id
         WHERE ur.role_id = ${roleId}::uuid AND ur.scope = '*'
           AND (ur.expires_at IS NULL OR ur.expires_at > ${now})
           AND u.status = 'ACTIVE' AND u.deleted_at IS NULL
           AND (${except}::uuid IS NULL OR ur.user_id <> ${except}::uuid)`;
      return rows[0]?.holders ?? 0;
    },
    async isActiveUser(userId) {
      if (!isUuid(userId)) return false;
      const rows = await tx.$queryRaw<{ active: boolean }[]>`
        SELECT (status = 'ACTIVE' AND deleted_at IS NULL) AS active FROM "users" WHERE id = ${userId}::uuid`;
      return rows[0]?.active ?? false;
    },
    async insertGlobalGrant(grant) {
      if (!isUuid(grant.userId)) {
        throw accessControlError(AccessControlErrorCode.USER_NOT_FOUND, 'No user with this id');
      }
      try {
        await tx.userRole.create({ data: { ...grant, scope: '*' } });
      } catch (err) {
        // The role row is locked, so a missing referenced row can only be the user.
        if (constraintViolation(err, 'P2003')) {
          throw accessControlError(AccessControlErrorCode.USER_NOT_FOUND, 'No user with this id');
        }
        if (constraintViolation(err, 'P2002')) {
          throw accessControlError(
            AccessControlErrorCode.ROLE_ALREADY_ASSIGNED,
            'The user already holds this role',
          );
        }
        throw err;
      }
    },
    async deleteGrant(grantId) {
      await tx.userRole.delete({ where: { id: grantId } });
    },
    // Through `tx`: the entry commits or rolls back with the change. The outcome goes into `metadata.outcome`
    // (audit_logs has no outcome column).
    async audit(entry) {
      await createAuditWriter<RoleAuditAction>(tx).record({
        action: entry.action,
        outcome: 'SUCCESS',
        actorUserId: entry.actorUserId,
        targetType: entry.targetType,
        targetId: entry.targetId,
        requestId: entry.requestId,
        metadata: entry.metadata,
      });
    },
  };
}

/** The Prisma implementation of {@link RoleAdminRepository}. */
export function createRoleAdminRepository(prisma: PrismaClient): RoleAdminRepository {
  return {
    transaction: (work) => prisma.$transaction((tx) => work(createUnit(tx))),
  };
}
