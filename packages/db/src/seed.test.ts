import { createPasswordHasher } from '@gatehouse/crypto';
import { migratedScratchDatabase } from './scratch-schema.test-support';
import { SYSTEM_PERMISSIONS } from './permissions';
import { seed } from './seed';

describe('seed', () => {
  let db: Awaited<ReturnType<typeof migratedScratchDatabase>>;
  beforeAll(async () => {
    db = await migratedScratchDatabase();
  });
  afterAll(() => db.close());

  const counts = async () => ({
    users: await db.prisma.user.count(),
    profiles: await db.prisma.userProfile.count(),
    roles: await db.prisma.role.count(),
    permissions: await db.prisma.permission.count(),
    rolePermissions: await db.prisma.rolePermission.count(),
    userRoles: await db.prisma.userRole.count(),
    plans: await db.prisma.subscriptionPlan.count(),
  });

  it('creates base data once and changes nothing when run again', async () => {
    const first = await seed(db.prisma, { env: {} });
    expect(first.admin).toMatchObject({ email: 'admin@gatehouse.local', created: true });
    expect(first.admin.generatedPassword).toEqual(expect.any(String));
    const afterFirst = await counts();
    expect(afterFirst).toEqual({
      users: 1,
      profiles: 1,
      roles: 3,
      permissions: Object.keys(SYSTEM_PERMISSIONS).length,
      rolePermissions: Object.keys(SYSTEM_PERMISSIONS).length,
      userRoles: 1,
      plans: 3,
    });

    const admin = await db.prisma.user.findUniqueOrThrow({ where: { email: 'admin@gatehouse.local' } });
    expect(admin.status).toBe('ACTIVE');
    expect(await createPasswordHasher().verify(admin.passwordHash!, first.admin.generatedPassword!)).toBe(
      true,
    );

    const second = await seed(db.prisma, { env: {} });
    expect(second.admin).toEqual({ id: first.admin.id, email: 'admin@gatehouse.local', created: false });
    expect(await counts()).toEqual(afterFirst);
    // The existing admin's password is not reset by re-seeding.
    const again = await db.prisma.user.findUniqueOrThrow({ where: { id: admin.id } });
    expect(again.passwordHash).toBe(admin.passwordHash);
  });

  it('builds the member <- support <- admin inheritance chain with the admin granted admin', async () => {
    const roles = await db.prisma.role.findMany({
      include: { parent: true, permissions: { include: { permission: true } } },
    });
    const byName = Object.fromEntries(roles.map((r) => [r.name, r]));
    expect(byName.member?.parent).toBeNull();
    expect(byName.support?.parent?.name).toBe('member');
    expect(byName.admin?.parent?.name).toBe('support');
    expect(roles.every((r) => r.isSystem)).toBe(true);
    expect(byName.support?.permissions.map((p) => p.permission.key).sort()).toEqual([
      'audit:read',
      'billing:read',
      'users:read',
    ]);

    const grant = await db.prisma.userRole.findFirstOrThrow({ include: { role: true, user: true } });
    expect(grant).toMatchObject({
      scope: '*',
      role: { name: 'admin' },
      user: { email: 'admin@gatehouse.local' },
    });
  });

  it('stores plan prices in minor units', async () => {
    const pro = await db.prisma.subscriptionPlan.findUniqueOrThrow({ where: { code: 'pro' } });
    expect(pro).toMatchObject({ priceAmount: 2900, currency: 'USD', interval: 'MONTH', trialDays: 14 });
    expect(pro.limits).toMatchObject({ api_calls: 1000000 });
  });

  it('takes the admin e-mail and password from the environment, lower-casing the e-mail', async () => {
    const summary = await seed(db.prisma, {
      env: { SEED_ADMIN_EMAIL: ' Ops@Example.COM ', SEED_ADMIN_PASSWORD: 'correct horse battery staple' },
      hashPassword: async (pw) => `test-hash:${pw}`,
    });
    expect(summary.admin).toMatchObject({ email: 'ops@example.com', created: true });
    expect(summary.admin.generatedPassword).toBeUndefined();
    const ops = await db.prisma.user.findUniqueOrThrow({ where: { email: 'ops@example.com' } });
    expect(ops.passwordHash).toBe('test-hash:correct horse battery staple');
  });
});
