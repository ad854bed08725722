import crypto from 'node:crypto';
import { createPasswordHasher } from '@gatehouse/crypto';
import type { Prisma, PrismaClient } from './generated/prisma/client';
import { SYSTEM_PERMISSIONS, type SystemPermission } from './permissions';

/**
 * System roles, parents first. A role inherits its parent's permissions: member <- support <- admin.
 * `member` (granted on sign-up) needs no permission: users act on their own data by ownership.
 */
export const SYSTEM_ROLES: readonly {
  name: 'member' | 'support' | 'admin';
  parent: 'member' | 'support' | null;
  description: string;
  permissions: readonly SystemPermission[];
}[] = [
  { name: 'member', parent: null, description: 'Every signed-up user', permissions: [] },
  {
    name: 'support',
    parent: 'member',
    description: 'Customer support: read-only access to accounts, billing and the audit log',
    permissions: ['users:read', 'billing:read', 'audit:read'],
  },
  {
    name: 'admin',
    parent: 'support',
    description: 'Full administrative access',
    permissions: ['users:write', 'roles:manage', 'billing:manage', 'settings:manage'],
  },
];

/** Plans created on first seed. Prices are in minor units (cents). Existing plans are left untouched. */
export const DEFAULT_PLANS: readonly Prisma.SubscriptionPlanCreateInput[] = [
  {
    code: 'free',
    name: 'Free',
    description: 'For trying Gatehouse out',
    priceAmount: 0,
    currency: 'USD',
    interval: 'MONTH',
    features: ['email_password_login', 'social_login'],
    limits: { monthly_active_users: 1000, api_calls: 10000, webhook_endpoints: 1 },
  },
  {
    code: 'pro',
    name: 'Pro',
    description: 'For growing products',
    priceAmount: 2900,
    currency: 'USD',
    interval: 'MONTH',
    trialDays: 14,
    features: ['email_password_login', 'social_login', 'mfa', 'audit_log', 'webhooks'],
    limits: { monthly_active_users: 10000, api_calls: 1000000, webhook_endpoints: 10 },
  },
  {
    code: 'business',
    name: 'Business',
    description: 'For organisations with compliance needs',
    priceAmount: 29900,
    currency: 'USD',
    interval: 'MONTH',
    trialDays: 14,
    features: ['email_password_login', 'social_login', 'mfa', 'audit_log', 'webhooks', 'custom_roles', 'sso'],
    limits: { monthly_active_users: null, api_calls: null, webhook_endpoints: null },
  },
];

export interface SeedOptions {
  /** Default: $SEED_ADMIN_EMAIL, else admin@gatehouse.local. Stored lower-cased. */
  adminEmail?: string;
  /** Default: $SEED_ADMIN_PASSWORD, else a random one, returned once in the summary. */
  adminPassword?: string;
  /** Hashes the admin password (default: @gatehouse/crypto's argon2id hasher). */
  hashPassword?: (password: string) => Promise<string>;
  env?: NodeJS.ProcessEnv;
}

export interface SeedSummary {
  permissions: number;
  roles: number;
  plans: number;
  admin: {
    id: string;
    email: string;
    /** False when the admin already existed: its password and profile were left as they were. */
    created: boolean;
    /** Set only when this call created the admin with a random password: show it once, then forget it. */
    generatedPassword?: string;
  };
}

/**
 * Idempotent base data: system permissions and roles (re-asserted on every run), the first admin user
 * and the default plans (created only when missing, so operators' edits survive re-seeding).
 */
export async function seed(prisma: PrismaClient, options: SeedOptions = {}): Promise<SeedSummary> {
  const env = options.env ?? process.env;
  const email = (options.adminEmail ?? env.SEED_ADMIN_EMAIL ?? 'admin@gatehouse.local').trim().toLowerCase();
  const existingAdmin = await prisma.user.findUnique({ where: { email }, select: { id: true } });
  const configuredPassword = options.adminPassword ?? env.SEED_ADMIN_PASSWORD;
  const generatedPassword =
    existingAdmin || configuredPassword ? undefined : crypto.randomBytes(18).toString('base64url');
  const password = configuredPassword ?? generatedPassword;
  const hashPassword = options.hashPassword ?? ((pw: string) => createPasswordHasher().hash(pw));
  // Hash outside the transaction: argon2 takes tens of milliseconds.
  const passwordHash = existingAdmin || password === undefined ? undefined : await hashPassword(password);

  return prisma.$transaction(async (tx) => {
    await tx.permission.createMany({
      data: Object.entries(SYSTEM_PERMISSIONS).map(([key, description]) => ({ key, description })),
      skipDuplicates: true,
    });
    const permissionIds = new Map(
      (await tx.permission.findMany({ where: { key: { in: Object.keys(SYSTEM_PERMISSIONS) } } })).map((p) => [
        p.key,
        p.id,
      ]),
    );

    const roleIds = new Map<string, string>();
    for (const role of SYSTEM_ROLES) {
      const parentRoleId = role.parent === null ? null : roleIds.get(role.parent);
      const { id } = await tx.role.upsert({
        where: { name: role.name },
        create: { name: role.name, description: role.description, isSystem: true, parentRoleId },
        update: { isSystem: true, parentRoleId },
      });
      roleIds.set(role.name, id);
      await tx.rolePermission.createMany({
        data: role.permissions.map((key) => ({ roleId: id, permissionId: permissionIds.get(key)! })),
        skipDuplicates: true,
      });
    }

    for (const plan of DEFAULT_PLANS) {
      await tx.subscriptionPlan.upsert({ where: { code: plan.code }, create: plan, update: {} });
    }

    const admin =
      existingAdmin ??
      (await tx.user.create({
        data: {
          email,
          passwordHash: passwordHash!,
          passwordChangedAt: new Date(),
          status: 'ACTIVE',
          emailVerified: true,
          emailVerifiedAt: new Date(),
          profile: { create: { displayName: 'Administrator', locale: 'en', timezone: 'UTC' } },
        },
        select: { id: true },
      }));
    await tx.userRole.upsert({
      where: { userId_roleId_scope: { userId: admin.id, roleId: roleIds.get('admin')!, scope: '*' } },
      create: { userId: admin.id, roleId: roleIds.get('admin')! },
      update: {},
    });

    return {
      permissions: permissionIds.size,
      roles: roleIds.size,
      plans: DEFAULT_PLANS.length,
      admin: {
        id: admin.id,
        email,
        created: !existingAdmin,
        ...(generatedPassword === undefined ? {} : { generatedPassword }),
      },
    };
  });
}
