import { randomUUID } from 'node:crypto';
import { graphql, parse } from 'graphql';
import { seed } from '@gatehouse/db';
import { AppError } from '@gatehouse/errors';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import {
  createTestDatabase,
  deleteRedisKeys,
  recordSqlStatements,
  redisUrlForTests,
  uniqueTestPrefix,
  type TestDatabase,
} from '@gatehouse/testing';
import { buildGuardedSubgraphSchema } from './apollo';
import type { Viewer } from './auth';
import {
  argumentIsViewerOrOmitted,
  createEffectivePermissions,
  effectivePermissionsKey,
  hasPermission,
  type EffectivePermissions,
  type PermissionContext,
} from './permission-rules';

let db: TestDatabase;
const redisUrl = redisUrlForTests('@gatehouse/service permission rules');
const redisPrefix = uniqueTestPrefix();
const roleIds: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db.prisma, {
    adminEmail: 'admin@example.test',
    adminPassword: 'not-used',
    hashPassword: async () => 'not-a-real-hash',
  });
  for (const role of await db.prisma.role.findMany()) roleIds[role.name] = role.id;
});

afterAll(async () => {
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

async function newUser(roleNames: string[], expiresAt: Date | null = null): Promise<string> {
  const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
  for (const name of roleNames) {
    await db.prisma.userRole.create({ data: { userId: user.id, roleId: roleIds[name]!, expiresAt } });
  }
  return user.id;
}

/** A custom role granting `keys`, under `parent`. */
async function newRole(keys: string[], parent: string | null = null): Promise<string> {
  const permissions = await db.prisma.permission.findMany({ where: { key: { in: keys } } });
  const role = await db.prisma.role.create({
    data: {
      name: `role-${randomUUID()}`,
      parentRoleId: parent,
      permissions: { create: permissions.map((p) => ({ permissionId: p.id })) },
    },
  });
  return role.id;
}

/** How many effective-permission queries `work` sends to PostgreSQL. */
async function queriesDuring(work: () => Promise<unknown>): Promise<number> {
  const sql = recordSqlStatements(db.pool);
  try {
    await work();
    return sql.count('user_roles');
  } finally {
    sql.restore();
  }
}

/** Our own KeyValueStore interface, delegating to `base` except for `overrides`. */
function wrapStore(base: KeyValueStore, overrides: Partial<KeyValueStore>): KeyValueStore {
  return {
    get: (key) => base.get(key),
    set: (key, value, options) => base.set(key, value, options),
    delete: (key) => base.delete(key),
    increment: (key, options) => base.increment(key, options),
    ttlSeconds: (key) => base.ttlSeconds(key),
    ping: () => base.ping(),
    close: () => base.close(),
    ...overrides,
  };
}

type Store = { name: string; open(): KeyValueStore };
const stores: Store[] = [{ name: 'in-process store', open: () => new MemoryKeyValueStore() }];
if (redisUrl) {
  let n = 0;
  stores.push({
    name: 'Redis',
    open: () => createKeyValueStore({ redisUrl, prefix: `${redisPrefix}:${n++}` }),
  });
}

describe.each(stores)('effective permissions with the $name', ({ open }) => {
  const opened: KeyValueStore[] = [];
  function setup(options: { kv?: KeyValueStore; onCacheError?: (err: unknown) => void } = {}) {
    const kv = options.kv ?? open();
    opened.push(kv);
    return {
      kv,
      effective: createEffectivePermissions({
        prisma: db.prisma,
        kv,
        ...(options.onCacheError ? { onCacheError: options.onCacheError } : {}),
      }),
    };
  }
  afterAll(async () => {
    await Promise.all(opened.map((kv) => kv.close()));
  });

  it('resolves inheritance three levels deep with one query, then answers from the store', async () => {
    const grandparent = await newRole(['audit:read']);
    const parent = await newRole(['billing:read'], grandparent);
    const child = await newRole([], parent);
    const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
    await db.prisma.userRole.create({ data: { userId: user.id, roleId: child } });
    const { effective, kv } = setup();

    let keys: ReadonlySet<string> = new Set();
    expect(await queriesDuring(async () => (keys = await effective.of(user.id)))).toBe(1);
    expect(keys).toEqual(new Set(['audit:read', 'billing:read']));
    expect(JSON.parse((await kv.get(effectivePermissionsKey(user.id)))!)).toEqual([
      'audit:read',
      'billing:read',
    ]);
    expect(await queriesDuring(async () => (keys = await effective.of(user.id)))).toBe(0);
    expect(keys).toEqual(new Set(['audit:read', 'billing:read']));
    // Malformed ids cost nothing.
    expect(await queriesDuring(async () => (keys = await effective.of('not-a-uuid')))).toBe(0);
    expect(keys.size).toBe(0);
  });

  it('invalidates one user, or every holder of a role and of the roles inheriting from it', async () => {
    const top = await newRole(['users:read']);
    const middle = await newRole([], top);
    const leaf = await newRole([], middle);
    const unrelated = await newRole(['audit:read']);
    const holders = [];
    for (const roleId of [top, leaf]) {
      const user = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
      await db.prisma.userRole.create({ data: { userId: user.id, roleId } });
      holders.push(user.id);
    }
    const bystander = await db.prisma.user.create({ data: { email: `${randomUUID()}@example.test` } });
    await db.prisma.userRole.create({ data: { userId: bystander.id, roleId: unrelated } });
    const { effective } = setup();
    for (const id of [...holders, bystander.id]) await effective.of(id);

    // A change at the top: both holders (directly and two levels down) re-read; the bystander does not.
    await db.prisma.rolePermission.deleteMany({ where: { roleId: top } });
    expect((await effective.invalidateRoleChain(middle)).sort()).toEqual([holders[1]]);
    expect((await effective.invalidateRoleChain(top)).sort()).toEqual([...holders].sort());
    for (const id of holders) {
      let keys: ReadonlySet<string> = new Set(['x']);
      expect(await queriesDuring(async () => (keys = await effective.of(id)))).toBe(1);
      expect(keys.size).toBe(0);
    }
    expect(await queriesDuring(() => effective.of(bystander.id))).toBe(0);

    await effective.invalidateUsers([bystander.id]);
    expect(await queriesDuring(() => effective.of(bystander.id))).toBe(1);
    expect(await queriesDuring(() => effective.of(bystander.id))).toBe(0);
  });

  it('never writes back an answer read before a change that was invalidated meanwhile', async () => {
    const userId = await newUser(['support']);
    const base = open();
    let interleave: (() => Promise<void>) | null = null;
    // Our own interface, wrapped: runs the concurrent change between the reader's query and its write-back.
    const kv = wrapStore(base, {
      async set(key, value, options) {
        const change = interleave;
        interleave = null;
        if (change) await change();
        return base.set(key, value, options);
      },
    });
    const { effective } = setup({ kv });
    const other = createEffectivePermissions({ prisma: db.prisma, kv: base });
    interleave = async () => {
      await db.prisma.userRole.deleteMany({ where: { userId } });
      await other.invalidateUsers([userId]);
    };
    // This reader saw the old grants; the change committed and was invalidated before its write-back.
    expect((await effective.of(userId)).has('users:read')).toBe(true);
    expect((await effective.of(userId)).has('users:read')).toBe(false);
    expect(await queriesDuring(() => effective.of(userId))).toBe(0);
  });

  it('keeps a cached set no longer than the earliest grant expiry', async () => {
    const userId = await newUser(['support'], new Date(Date.now() + 3_000));
    const { effective, kv } = setup();
    expect((await effective.of(userId)).has('users:read')).toBe(true);
    const ttl = await kv.ttlSeconds(effectivePermissionsKey(userId));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3);
  });

  it('answers from PostgreSQL when the store fails, and says so', async () => {
    const userId = await newUser(['support']);
    const base = open();
    const failing = wrapStore(base, { get: () => Promise.reject(new Error('store down')) });
    const errors: unknown[] = [];
    const { effective } = setup({ kv: failing, onCacheError: (err) => errors.push(err) });
    expect((await effective.of(userId)).has('users:read')).toBe(true);
    expect(errors).toEqual([new Error('store down')]);
  });
});

describe('hasPermission', () => {
  const schema = buildGuardedSubgraphSchema({
    typeDefs: parse(`
      type Query {
        "Guarded by users:read."
        readUsers: Boolean
        "Guarded by users:read too."
        alsoReadUsers: Boolean
        "Guarded by billing:read."
        readBilling: Boolean
        "About oneself, or users:read."
        about(userId: ID): Boolean
      }
    `),
    resolvers: {
      Query: { readUsers: () => true, alsoReadUsers: () => true, readBilling: () => true, about: () => true },
    },
    permissions: {
      Query: {
        readUsers: hasPermission('users:read'),
        alsoReadUsers: hasPermission('users:read'),
        readBilling: hasPermission('billing:read'),
        about: argumentIsViewerOrOmitted('userId'),
      },
    },
  });
  const logger = createLogger({ name: 'permission-rules-test', level: 'silent' });

  /** Our own interface with a fixed answer, counting calls. */
  function fixedPermissions(keys: string[]): EffectivePermissions & { calls: number } {
    const fake = {
      calls: 0,
      of: async () => {
        fake.calls += 1;
        return new Set(keys);
      },
      invalidateUsers: async () => undefined,
      invalidateRoleChain: async () => [],
    };
    return fake;
  }

  async function run(source: string, ctx: PermissionContext) {
    const result = await graphql({ schema, source, contextValue: ctx });
    return {
      data: result.data,
      codes: (result.errors ?? []).map((e) =>
        e.originalError instanceof AppError ? e.originalError.code : e.message,
      ),
    };
  }
  const context = (
    viewer: Viewer | null,
    effectivePermissions?: EffectivePermissions,
  ): PermissionContext => ({
    requestId: 'r',
    logger,
    viewer,
    ...(effectivePermissions ? { effectivePermissions } : {}),
  });

  it('is UNAUTHENTICATED for anonymous callers', async () => {
    expect(await run('{ readUsers }', context(null, fixedPermissions(['users:read'])))).toEqual({
      data: { readUsers: null },
      codes: ['UNAUTHENTICATED'],
    });
  });

  it('decides by the live permissions, not by the token claim, reading them once per request', async () => {
    const live = fixedPermissions(['users:read']);
    const viewer: Viewer = { userId: randomUUID(), roles: ['member'], permissions: ['billing:read'] };
    expect(await run('{ readUsers alsoReadUsers readBilling }', context(viewer, live))).toEqual({
      data: { readUsers: true, alsoReadUsers: true, readBilling: null },
      codes: ['FORBIDDEN'],
    });
    expect(live.calls).toBe(1);
  });

  it('falls back to the token claim when the context has no live reader', async () => {
    const viewer: Viewer = { userId: randomUUID(), roles: ['member'], permissions: ['billing:read'] };
    expect(await run('{ readUsers readBilling }', context(viewer))).toEqual({
      data: { readUsers: null, readBilling: true },
      codes: ['FORBIDDEN'],
    });
    expect(await run('{ readBilling }', context({ userId: randomUUID(), roles: [] }))).toEqual({
      data: { readBilling: null },
      codes: ['FORBIDDEN'],
    });
  });

  it('returns one rule per key (shield refuses two rules with one name)', () => {
    expect(hasPermission('users:read')).toBe(hasPermission('users:read'));
    expect(hasPermission('users:read')).not.toBe(hasPermission('users:write'));
  });

  it('argumentIsViewerOrOmitted allows oneself only', async () => {
    const userId = randomUUID();
    const ctx = () => context({ userId, roles: [] }, fixedPermissions([]));
    expect(await run('{ about }', ctx())).toEqual({ data: { about: true }, codes: [] });
    expect(await run(`{ about(userId: "${userId}") }`, ctx())).toEqual({ data: { about: true }, codes: [] });
    expect(await run(`{ about(userId: "${randomUUID()}") }`, ctx())).toEqual({
      data: { about: null },
      codes: ['FORBIDDEN'],
    });
    expect(await run('{ about }', context(null))).toEqual({
      data: { about: null },
      codes: ['UNAUTHENTICATED'],
    });
  });
});
