import { ValidationError } from '@gatehouse/errors';
import { ADMIN_ROLE, type EffectivePermissions } from '@gatehouse/service';
import type { z } from 'zod';
import { AccessControlErrorCode, accessControlError } from './error-codes';
import type { RoleModel } from '../models';
import type { RoleAdminRepository, RoleFields, RoleWriteUnit } from './role-admin.repository';
import { RoleAuditAction } from './role-audit';
import { createRoleInputSchema, updateRoleInputSchema } from './validation';

/** Who makes a change: the verified viewer, with the permissions they hold now. */
export interface Actor {
  userId: string;
  requestId: string;
  /** The actor's live effective permissions: a role manager cannot hand out more than this. */
  permissions: ReadonlySet<string>;
}

/** A role as `createRole` receives it from the client (validated here). */
export interface CreateRoleRequest {
  name: string;
  description?: string | null;
  parentId?: string | null;
  permissionKeys?: string[] | null;
}

/** Changes to a role as `updateRole` receives them: undefined = unchanged, null = none (description, parent). */
export interface UpdateRoleRequest {
  name?: string | null;
  description?: string | null;
  parentId?: string | null;
  permissionKeys?: string[] | null;
}

/**
 * Role management. Each change runs in one transaction with the rows it depends on locked, writes its audit entry
 * in that transaction, and after the commit invalidates the cached effective permissions it affects, so the next
 * permission check (with the same access token) sees it.
 */
export interface RoleAdminService {
  createRole(actor: Actor, request: CreateRoleRequest): Promise<RoleModel>;
  updateRole(actor: Actor, roleId: string, request: UpdateRoleRequest): Promise<RoleModel>;
  /** @returns the deleted role's id. */
  deleteRole(actor: Actor, roleId: string): Promise<string>;
  assignRole(actor: Actor, grant: { userId: string; roleId: string; expiresAt?: Date | null }): Promise<void>;
  removeRole(actor: Actor, grant: { userId: string; roleId: string }): Promise<void>;
}

export interface RoleAdminServiceOptions {
  repository: RoleAdminRepository;
  effectivePermissions: EffectivePermissions;
  /** Where a failed cache invalidation is reported (the request logger's shape). */
  logger: { error(details: object, message: string): void };
  now?: () => Date;
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw ValidationError.fromZod(result.error);
  return result.data;
}

const roleNotFound = () => accessControlError(AccessControlErrorCode.ROLE_NOT_FOUND, 'No role with this id');
const systemRoleImmutable = () =>
  accessControlError(
    AccessControlErrorCode.SYSTEM_ROLE_IMMUTABLE,
    'System roles cannot be changed or deleted',
  );

/** Registry ids of `keys`, or PERMISSION_UNKNOWN naming every key that is not in the registry. */
async function permissionIdsOf(unit: RoleWriteUnit, keys: readonly string[]): Promise<string[]> {
  const ids = await unit.permissionIdsByKey(keys);
  const unknown = keys.filter((key) => !ids.has(key));
  if (unknown.length > 0) {
    throw accessControlError(AccessControlErrorCode.PERMISSION_UNKNOWN, 'Unknown permission', {
      permissions: unknown,
    });
  }
  return keys.map((key) => ids.get(key)!);
}

/** Refuses handing out keys the actor does not hold (no escalation through role management). */
function assertNoEscalation(actor: Actor, handedOut: Iterable<string>): void {
  const missing = [...new Set(handedOut)].filter((key) => !actor.permissions.has(key)).sort();
  if (missing.length > 0) {
    throw accessControlError(
      AccessControlErrorCode.PRIVILEGE_ESCALATION,
      'You cannot grant permissions you do not hold yourself',
      { permissions: missing },
    );
  }
}

/** Creates the role-management service. */
export function createRoleAdminService(options: RoleAdminServiceOptions): RoleAdminService {
  const { repository, effectivePermissions, logger } = options;
  const now = options.now ?? (() => new Date());

  /**
   * The change is committed: a failing cache only delays it (until the cached sets expire), so the mutation still
   * succeeds, and the failure is logged loudly.
   */
  async function invalidate(what: string, invalidation: () => Promise<unknown>) {
    try {
      await invalidation();
    } catch (err) {
      logger.error(
        { err, what },
        'effective permissions not invalidated; the change applies when caches expire',
      );
    }
  }

  return {
    async createRole(actor, request) {
      const input = parse(createRoleInputSchema, request);
      return repository.transaction(async (unit) => {
        let inherited: string[] = [];
        if (input.parentId !== null) {
          const parent = await unit.lockRole(input.parentId, 'share');
          if (!parent) throw roleNotFound();
          inherited = await unit.effectiveKeysOfRoles([parent.id]);
        }
        const permissionIds = await permissionIdsOf(unit, input.permissionKeys);
        assertNoEscalation(actor, [...input.permissionKeys, ...inherited]);
        const role = await unit.insertRole({
          name: input.name,
          description: input.description,
          parentRoleId: input.parentId,
        });
        await unit.setPermissions(role.id, permissionIds);
        await unit.audit({
          action: RoleAuditAction.ROLE_CREATED,
          actorUserId: actor.userId,
          targetType: 'Role',
          targetId: role.id,
          requestId: actor.requestId,
          metadata: {
            name: role.name,
            parentId: role.parentRoleId,
            permissionKeys: input.permissionKeys,
          },
        });
        // Nobody holds a new role yet: no cached set to invalidate.
        return role;
      });
    },

    async updateRole(actor, roleId, request) {
      const input = parse(updateRoleInputSchema, request);
      const changesHierarchy = input.parentId !== undefined;
      const changesPermissions = changesHierarchy || input.permissionKeys !== undefined;
      const updated = await repository.transaction(async (unit) => {
        if (changesHierarchy) await unit.lockAllRoles();
        const role = changesHierarchy ? await unit.findRole(roleId) : await unit.lockRole(roleId, 'update');
        if (!role) throw roleNotFound();
        if (role.isSystem) throw systemRoleImmutable();

        if (input.parentId !== undefined && input.parentId !== null) {
          // Every role row is locked: the chain cannot change between this check and the commit.
          const chain = await unit.chainOf(input.parentId);
          if (chain.length === 0) throw roleNotFound();
          if (chain.includes(role.id)) {
            throw accessControlError(
              AccessControlErrorCode.ROLE_CYCLE,
              'The role would inherit from itself: choose a parent that does not inherit from this role',
            );
          }
        }

        const oldKeys = await unit.directKeysOf(role.id);
        const permissionIds =
          input.permissionKeys === undefined ? undefined : await permissionIdsOf(unit, input.permissionKeys);
        if (changesPermissions) {
          const parentId = input.parentId === undefined ? role.parentRoleId : input.parentId;
          const before = new Set(await unit.effectiveKeysOfRoles([role.id]));
          const after = [
            ...(input.permissionKeys ?? oldKeys),
            ...(parentId === null ? [] : await unit.effectiveKeysOfRoles([parentId])),
          ];
          // Only what the change adds: keeping what an administrator granted earlier is not an escalation.
          assertNoEscalation(
            actor,
            after.filter((key) => !before.has(key)),
          );
        }

        const fields: Partial<RoleFields> = {};
        if (input.name !== undefined) fields.name = input.name;
        if (input.description !== undefined) fields.description = input.description;
        if (input.parentId !== undefined) fields.parentRoleId = input.parentId;
        const result = Object.keys(fields).length > 0 ? await unit.updateRole(role.id, fields) : role;
        if (permissionIds !== undefined) await unit.setPermissions(role.id, permissionIds);

        const before: Record<string, string | string[] | null> = {};
        const after: Record<string, string | string[] | null> = {};
        const note = (field: string, was: string | string[] | null, is: string | string[] | null) => {
          if (JSON.stringify(was) === JSON.stringify(is)) return;
          before[field] = was;
          after[field] = is;
        };
        note('name', role.name, result.name);
        note('description', role.description, result.description);
        note('parentId', role.parentRoleId, result.parentRoleId);
        note('permissionKeys', oldKeys, input.permissionKeys ?? oldKeys);
        await unit.audit({
          action: RoleAuditAction.ROLE_UPDATED,
          actorUserId: actor.userId,
          targetType: 'Role',
          targetId: role.id,
          requestId: actor.requestId,
          metadata: { name: result.name, before, after },
        });
        return result;
      });
      if (changesPermissions) {
        await invalidate(`role chain ${updated.id}`, () =>
          effectivePermissions.invalidateRoleChain(updated.id),
        );
      }
      return updated;
    },

    async deleteRole(actor, roleId) {
      return repository.transaction(async (unit) => {
        const role = await unit.lockRole(roleId, 'delete');
        if (!role) throw roleNotFound();
        if (role.isSystem) throw systemRoleImmutable();
        const usage = await unit.usageOf(role.id, now());
        if (usage.holders > 0 || usage.children > 0) {
          throw accessControlError(
            AccessControlErrorCode.ROLE_IN_USE,
            'The role is still held by users or inherited by other roles',
            { users: usage.holders, childRoles: usage.children },
          );
        }
        const permissionKeys = await unit.directKeysOf(role.id);
        await unit.deleteRole(role.id);
        await unit.audit({
          action: RoleAuditAction.ROLE_DELETED,
          actorUserId: actor.userId,
          targetType: 'Role',
          targetId: role.id,
          requestId: actor.requestId,
          metadata: { name: role.name, parentId: role.parentRoleId, permissionKeys },
        });
        // Nobody held it (expired grants went with it): no cached set includes its permissions.
        return role.id;
      });
    },

    async assignRole(actor, { userId, roleId, expiresAt = null }) {
      const at = now();
      if (expiresAt !== null && expiresAt.getTime() <= at.getTime()) {
        throw new ValidationError('Invalid input', {
          details: [{ path: 'expiresAt', message: 'Choose a time in the future.' }],
        });
      }
      await repository.transaction(async (unit) => {
        const role = await unit.lockRole(roleId, 'share');
        if (!role) throw roleNotFound();
        // A deleted user answers like an unknown one: the caller learns nothing about deleted accounts.
        if (!(await unit.isLiveUser(userId))) {
          throw accessControlError(AccessControlErrorCode.USER_NOT_FOUND, 'No user with this id');
        }
        assertNoEscalation(actor, await unit.effectiveKeysOfRoles([role.id]));
        const existing = await unit.findGlobalGrant(userId, role.id);
        if (existing && (existing.expiresAt === null || existing.expiresAt > at)) {
          throw accessControlError(
            AccessControlErrorCode.ROLE_ALREADY_ASSIGNED,
            'The user already holds this role',
          );
        }
        // An expired grant occupies the (user, role, scope) key: replace it rather than extend its history.
        if (existing) await unit.deleteGrant(existing.id);
        await unit.insertGlobalGrant({ userId, roleId: role.id, expiresAt, grantedById: actor.userId });
        await unit.audit({
          action: RoleAuditAction.ROLE_ASSIGNED,
          actorUserId: actor.userId,
          targetType: 'User',
          targetId: userId,
          requestId: actor.requestId,
          metadata: {
            roleId: role.id,
            roleName: role.name,
            expiresAt: expiresAt?.toISOString() ?? null,
            renewed: existing !== null,
          },
        });
      });
      await invalidate(`user ${userId}`, () => effectivePermissions.invalidateUsers([userId]));
    },

    async removeRole(actor, { userId, roleId }) {
      const at = now();
      await repository.transaction(async (unit) => {
        const grant = await unit.findGlobalGrant(userId, roleId);
        if (!grant || (grant.expiresAt !== null && grant.expiresAt <= at)) {
          throw accessControlError(
            AccessControlErrorCode.ROLE_NOT_ASSIGNED,
            'The user does not hold this role',
          );
        }
        const role = await unit.findRole(roleId);
        if (role?.isSystem && role.name === ADMIN_ROLE) {
          // Locked, so a concurrent removal (or identity suspending an admin) waits and then counts this one.
          await unit.lockRole(role.id, 'update');
          if (
            (await unit.isActiveUser(userId)) &&
            (await unit.activeHoldersExcept(role.id, userId, at)) === 0
          ) {
            throw accessControlError(
              AccessControlErrorCode.LAST_ADMIN,
              'This is the last active administrator: grant the admin role to someone else first',
            );
          }
        }
        await unit.deleteGrant(grant.id);
        await unit.audit({
          action: RoleAuditAction.ROLE_REMOVED,
          actorUserId: actor.userId,
          targetType: 'User',
          targetId: userId,
          requestId: actor.requestId,
          metadata: { roleId, roleName: role?.name ?? null },
        });
      });
      await invalidate(`user ${userId}`, () => effectivePermissions.invalidateUsers([userId]));
    },
  };
}
