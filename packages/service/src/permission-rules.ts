import { randomUUID } from 'node:crypto';
import { rule, type IRule } from 'graphql-shield';
import type { PrismaClient, SystemPermission } from '@gatehouse/db';
import { AuthenticationError } from '@gatehouse/errors';
import type { KeyValueStore } from '@gatehouse/kv';
import type { BaseContext } from './context';
import { readEffectiveAccess } from './effective-access';
import { isUuid } from './ids';

/**
 * Live effective permissions: the `resource:action` keys a user holds right now through unexpired global
 * (`scope = '*'`) role grants and every ancestor of those roles.
 *
 * Why live and not the token's `permissions` claim: an access token lives 15 minutes, and the issue asks that a
 * removed permission stops working at once. So the set read here is authoritative for every authorization
 * decision (a grant works at once too); the token claim is only a hint for clients (what to show). The set is
 * cached in the shared key/value store and invalidated by access-control on every change to a user's roles or to
 * any role in the inheritance chain.
 */
export interface EffectivePermissions {
  /** The user's effective permission keys (empty for unknown users and malformed ids). */
  of(userId: string): Promise<ReadonlySet<string>>;
  /** Forgets the cached sets of these users, so their next `of` reads PostgreSQL. Call after the change commits. */
  invalidateUsers(userIds: Iterable<string>): Promise<void>;
  /**
   * Forgets the cached sets of every user holding `roleId` or any role that inherits from it (its descendants),
   * expired grants included. Call after the change commits.
   * @returns the ids of the users whose sets were forgotten.
   */
  invalidateRoleChain(roleId: string): Promise<string[]>;
}

export interface EffectivePermissionsOptions {
  prisma: PrismaClient;
  /** The store shared by every subgraph (Redis in production), so one invalidation reaches every replica. */
  kv: KeyValueStore;
  /** Upper bound on how long a cached set is trusted; default 300. Shortened to the earliest grant expiry. */
  ttlSeconds?: number;
  /** Told when the store fails; the answer then comes from PostgreSQL (reads) or the error is rethrown (writes). */
  onCacheError?: (err: unknown) => void;
  /** Clock, for tests. */
  now?: () => Date;
}

/** Default lifetime of a cached effective-permission set. */
export const DEFAULT_EFFECTIVE_PERMISSIONS_TTL_SECONDS = 300;

/**
 * How long an invalidation marker blocks write-backs. A reader whose PostgreSQL query started before a change
 * committed must not write its (stale) answer back after the invalidation: the marker makes it skip the write.
 * Must exceed the slowest effective-permission query.
 */
const INVALIDATION_MARKER_TTL_SECONDS = 30;
const INVALIDATION_MARKER_PREFIX = 'invalidated:';
/** Parallel store round trips when invalidating many users at once. */
const INVALIDATION_CONCURRENCY = 50;

/** The key/value store key of a user's cached set: a JSON array of keys, or an invalidation marker. */
export function effectivePermissionsKey(userId: string): string {
  return `effective-permissions:v1:${userId}`;
}

function parseCachedSet(value: string | null): ReadonlySet<string> | null {
  if (value === null || value.startsWith(INVALIDATION_MARKER_PREFIX)) return null;
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) return new Set(parsed);
  } catch {
    // A value we cannot read is treated as a miss and replaced.
  }
  return null;
}

/**
 * Creates the cached effective-permission reader. A miss costs one recursive query; the answer is written back
 * unless the user was invalidated while the query ran (see {@link INVALIDATION_MARKER_TTL_SECONDS}).
 */
export function createEffectivePermissions(options: EffectivePermissionsOptions): EffectivePermissions {
  const { prisma, kv } = options;
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_EFFECTIVE_PERMISSIONS_TTL_SECONDS;
  const now = options.now ?? (() => new Date());
  const onCacheError = options.onCacheError ?? (() => undefined);

  async function load(userId: string): Promise<{ keys: string[]; expiresAt: Date | null }> {
    const at = now();
    const [access] = await readEffectiveAccess(prisma, [userId], at);
    return { keys: access?.permissions ?? [], expiresAt: access?.expiresAt ?? null };
  }

  async function writeBack(key: string, seen: string | null, keys: string[], expiresAt: Date | null) {
    // A grant that lapses must stop counting when it lapses, not when the cached set expires.
    const untilExpiry = expiresAt === null ? Infinity : (expiresAt.getTime() - now().getTime()) / 1000;
    const ttl = Math.min(ttlSeconds, untilExpiry);
    if (ttl <= 0) return;
    const value = JSON.stringify(keys);
    if (seen === null) {
      // An invalidation during our query left a marker: NX refuses to overwrite it with a stale answer.
      await kv.set(key, value, { ttlSeconds: ttl, onlyIfAbsent: true });
      return;
    }
    // We started from a marker: write only if it is still the same one (no newer invalidation since).
    if ((await kv.get(key)) === seen) await kv.set(key, value, { ttlSeconds: ttl });
  }

  async function invalidateUsers(userIds: Iterable<string>): Promise<void> {
    const ids = [...new Set(userIds)].filter(isUuid);
    const marker = `${INVALIDATION_MARKER_PREFIX}${randomUUID()}`;
    for (let i = 0; i < ids.length; i += INVALIDATION_CONCURRENCY) {
      await Promise.all(
        ids
          .slice(i, i + INVALIDATION_CONCURRENCY)
          .map((id) =>
            kv.set(effectivePermissionsKey(id), marker, { ttlSeconds: INVALIDATION_MARKER_TTL_SECONDS }),
          ),
      );
    }
  }

  return {
    async of(userId) {
      if (!isUuid(userId)) return new Set();
      const key = effectivePermissionsKey(userId);
      let seen: string | null = null;
      let cacheUsable = true;
      try {
        seen = await kv.get(key);
        const cached = parseCachedSet(seen);
        if (cached) return cached;
      } catch (err) {
        cacheUsable = false;
        onCacheError(err);
      }
      const { keys, expiresAt } = await load(userId);
      if (cacheUsable) {
        // A value we could not parse is overwritten like a marker we saw.
        await writeBack(key, seen, keys, expiresAt).catch(onCacheError);
      }
      return new Set(keys);
    },
    invalidateUsers,
    async invalidateRoleChain(roleId) {
      if (!isUuid(roleId)) return [];
      const rows = await prisma.$queryRaw<{ userId: string }[]>`
        WITH RECURSIVE chain AS (
          SELECT id FROM "roles" WHERE id = ${roleId}::uuid
          UNION
          SELECT r.id FROM "roles" r JOIN chain c ON r.parent_role_id = c.id
        )
        SELECT DISTINCT ur.user_id::text AS "userId"
          FROM "user_roles" ur JOIN chain c ON ur.role_id = c.id`;
      const userIds = rows.map((row) => row.userId);
      await invalidateUsers(userIds);
      return userIds;
    },
  };
}

/**
 * What {@link hasPermission} needs from a context. Subgraphs put their {@link EffectivePermissions} here; a
 * context without one falls back to the verified token's `permissions` claim (signed, but as old as the token:
 * a removal then takes effect when the token expires). Access-control always provides the live reader.
 */
export interface PermissionContext extends BaseContext {
  effectivePermissions?: EffectivePermissions;
}

const perRequest = new WeakMap<object, Promise<ReadonlySet<string>>>();

/**
 * The viewer's effective permissions, read once per request (memoised on the context object) whichever rules and
 * resolvers ask. Empty for anonymous requests.
 */
export function viewerPermissions(ctx: PermissionContext): Promise<ReadonlySet<string>> {
  let pending = perRequest.get(ctx);
  if (!pending) {
    const { viewer } = ctx;
    pending = !viewer
      ? Promise.resolve(new Set<string>())
      : ctx.effectivePermissions
        ? ctx.effectivePermissions.of(viewer.userId)
        : Promise.resolve(new Set(viewer.permissions ?? []));
    // A failed read must not be memoised as the request's answer for later rules.
    pending.catch(() => perRequest.delete(ctx));
    perRequest.set(ctx, pending);
  }
  return pending;
}

const permissionRules = new Map<SystemPermission, IRule>();

/**
 * Shield rule: the viewer holds `key` now (see {@link viewerPermissions}). UNAUTHENTICATED for anonymous
 * callers; `false` (FORBIDDEN through the fallback error) otherwise, which says nothing about whether the object
 * asked for exists. Cached per request and key (`contextual`). One rule instance per key: shield refuses two
 * different rules with the same name.
 */
export function hasPermission(key: SystemPermission): IRule {
  let existing = permissionRules.get(key);
  if (!existing) {
    existing = rule(`hasPermission(${key})`, { cache: 'contextual' })(
      async (_parent: unknown, _args: unknown, ctx: PermissionContext) => {
        if (!ctx.viewer) return new AuthenticationError();
        return (await viewerPermissions(ctx)).has(key);
      },
    );
    permissionRules.set(key, existing);
  }
  return existing;
}

const viewerArgumentRules = new Map<string, IRule>();

/**
 * Shield rule: the field's `argument` is omitted (null) or names the viewer's own user id, e.g. `whyCanI(userId)`
 * about oneself. Combine with `or(..., hasPermission(...))` for asking about others. UNAUTHENTICATED for
 * anonymous callers. Reads the arguments, so it is not cached.
 */
export function argumentIsViewerOrOmitted(argument: string): IRule {
  let existing = viewerArgumentRules.get(argument);
  if (!existing) {
    existing = rule(`argumentIsViewerOrOmitted(${argument})`, { cache: 'no_cache' })(
      (_parent: unknown, args: Record<string, unknown>, ctx: BaseContext) => {
        if (!ctx.viewer) return new AuthenticationError();
        const value = args[argument];
        return value === undefined || value === null || value === ctx.viewer.userId;
      },
    );
    viewerArgumentRules.set(argument, existing);
  }
  return existing;
}
