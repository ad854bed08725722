import { ErrorCode } from '@gatehouse/errors';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { createPlanAdmin, type PlanAdmin } from './plan-admin';
import { createPlanAdminRepository } from './plan.repository';

let db: TestDatabase;
let admin: PlanAdmin;
let actor: { actorUserId: string };

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 2 });
  admin = createPlanAdmin(createPlanAdminRepository(db.prisma));
  actor = { actorUserId: (await db.prisma.user.create({ data: { email: 'ops@example.test' } })).id };
});
afterAll(async () => {
  await db?.close();
});

const base = { priceAmount: 1500, currency: 'eur', interval: 'MONTH' as const };

describe('plan administration', () => {
  it('creates a plan (currency upper-cased, limits as an object) and records it', async () => {
    const plan = await admin.create(actor, {
      ...base,
      code: 'team',
      name: 'Team',
      limits: [{ key: 'api_calls', value: 1000 }, { key: 'seats' }],
    });
    expect(plan).toMatchObject({ code: 'team', currency: 'EUR', version: 1, active: true });
    expect(plan.limits).toEqual([
      { key: 'api_calls', value: 1000 },
      { key: 'seats', value: null },
    ]);
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: 'PLAN_CREATED', targetId: plan.id },
    });
    expect(audit.actorUserId).toBe(actor.actorUserId);
  });

  it('refuses markup and control characters in plan copy, and a taken code', async () => {
    await expect(
      admin.create(actor, { ...base, code: 'xss', name: '<script>alert(1)</script>' }),
    ).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT });
    await expect(
      admin.create(actor, { ...base, code: 'xss2', name: 'Plan', description: 'ok\u202Eevil' }),
    ).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT });
    await expect(admin.create(actor, { ...base, code: 'team', name: 'Again' })).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
    });
  });

  it('versions every edit, keeps the old terms in the audit trail, and archives without deleting', async () => {
    const plan = await admin.create(actor, { ...base, code: 'growth', name: 'Growth' });
    const edited = await admin.update(actor, plan.id, { priceAmount: 2500, features: ['sso'] });
    expect(edited).toMatchObject({ version: 2, priceAmount: 2500, features: ['sso'], name: 'Growth' });
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: 'PLAN_UPDATED', targetId: plan.id },
    });
    expect(audit.metadata).toMatchObject({
      version: 2,
      before: { priceAmount: 1500, features: [] },
      after: { priceAmount: 2500, features: ['sso'] },
    });

    const archived = await admin.archive(actor, plan.id);
    expect(archived.active).toBe(false);
    expect(await db.prisma.subscriptionPlan.count({ where: { id: plan.id } })).toBe(1);
    await expect(
      admin.update(actor, '00000000-0000-4000-8000-000000000000', { name: 'x' }),
    ).rejects.toMatchObject({
      code: ErrorCode.NOT_FOUND,
    });
  });
});
