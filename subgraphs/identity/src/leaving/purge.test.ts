import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEnvelopeCipher, createPasswordHasher, hashToken } from '@gatehouse/crypto';
import { MemoryEventBus } from '@gatehouse/events';
import { MemoryJobQueue } from '@gatehouse/jobs';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createMailer } from '@gatehouse/mail';
import { createFilesystemStorage, type FilesystemStorage } from '@gatehouse/storage';
import { createTestDatabase, type TestDatabase } from '@gatehouse/testing';
import { createAuditLog } from '../audit';
import { createLoginGuard, createLoginGuardRepository } from '../credentials';
import { createAccountRepository } from '../users';
import type { ClientInfo } from '../client-info';
import { createSessionRepository, createSessionService } from '../sessions';
import { REDACTED_RECIPIENT, createLeavingRepository, purgedEmail } from './leaving.repository';
import {
  avatarStoragePrefix,
  createLeavingService,
  exportStoragePrefix,
  type AccountFileStorage,
  type LeavingService,
} from './leaving.service';
import { pseudonymizeUserId } from './pseudonym';

// Real PostgreSQL (a fresh schema) and the filesystem object storage in a temporary directory. The purge is driven
// by moving the services' clock; every table the purge touches is checked row by row, for the purged user and for
// a bystander whose data must stay exactly as it was.

jest.setTimeout(60_000);

const PASSWORD = 'velvet orbit cactus lantern';
const DAY_MS = 24 * 60 * 60 * 1000;
const T0 = new Date('2031-03-01T12:00:00.000Z');
const client: ClientInfo = { ip: '203.0.113.9', userAgent: 'Firefox/120.0', requestId: 'req-purge-test' };
const pseudonymKey = randomBytes(32);
const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const hasher = createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let db: TestDatabase;
let storageDir: string;
let storage: FilesystemStorage;
let jobQueue: MemoryJobQueue;
let passwordHash: string;
const kv = new MemoryKeyValueStore();
const bus = new MemoryEventBus();
const clock = { now: T0 };
const now = () => clock.now;

beforeAll(async () => {
  [db, storageDir, passwordHash] = await Promise.all([
    createTestDatabase(),
    mkdtemp(path.join(tmpdir(), 'gatehouse-purge-')),
    hasher.hash(PASSWORD),
  ]);
  storage = createFilesystemStorage({
    rootDir: storageDir,
    publicBaseUrl: 'http://127.0.0.1:9/files',
    signingSecret: 'purge-test-signing-secret-0123456789abcdef',
  });
  // Mail is stored (QUEUED) but never sent: no worker. What matters here is the delivery rows.
  jobQueue = new MemoryJobQueue({ logger: quiet });
});

afterAll(async () => {
  await jobQueue?.close();
  await Promise.all([kv.close(), bus.close(), storage?.close()]);
  await db?.close();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

function service(overrides: { storage?: AccountFileStorage } = {}): LeavingService {
  const sessions = createSessionService({
    repository: createSessionRepository(db.prisma),
    kv,
    events: bus,
    now,
  });
  return createLeavingService({
    repository: createLeavingRepository(db.prisma),
    accounts: createAccountRepository(db.prisma),
    hasher,
    guard: createLoginGuard({ kv, repository: createLoginGuardRepository(db.prisma), now }),
    sessions,
    mailer: createMailer({ prisma: db.prisma, jobQueue, cipher, logger: quiet }),
    audit: createAuditLog(db.prisma),
    kv,
    storage: overrides.storage ?? storage,
    publicUrl: 'https://id.example.test',
    pseudonymKey,
    logger: quiet,
    now,
  });
}

let planId: string | undefined;
async function plan(): Promise<string> {
  planId ??= (
    await db.prisma.subscriptionPlan.create({
      data: { code: 'pro', name: 'Pro', priceAmount: 1200, currency: 'EUR', interval: 'MONTH' },
    })
  ).id;
  return planId;
}

/** A user with a row in every table the purge touches, and files in both storage folders. */
async function seedUser(label: string) {
  const email = `${label}-${randomUUID().slice(0, 8)}@example.test`;
  const user = await db.prisma.user.create({
    data: {
      email,
      status: 'ACTIVE',
      emailVerified: true,
      emailVerifiedAt: T0,
      passwordHash,
      passwordChangedAt: T0,
      mfaEnabled: true,
      mfaEnabledAt: T0,
      failedLoginCount: 2,
      lastFailedLoginAt: T0,
      lastLoginAt: T0,
      profile: {
        create: {
          displayName: `Ada ${label}`,
          bio: 'Counts things',
          phone: '+15550001111',
          avatarKey: `public/avatars/placeholder/${label}`,
        },
      },
    },
  });
  const id = user.id;
  const sessions = createSessionService({
    repository: createSessionRepository(db.prisma),
    kv,
    events: bus,
    now,
  });
  await sessions.createSession({ userId: id, ip: '198.51.100.7', userAgent: 'Safari' });
  await db.prisma.oAuthAccount.create({
    data: {
      userId: id,
      provider: 'github',
      providerAccountId: `gh-${id}`,
      email,
      accessTokenEncrypted: 'env',
    },
  });
  await db.prisma.verificationToken.create({
    data: { userId: id, email, tokenHash: hashToken(`v-${id}`), expiresAt: T0 },
  });
  await db.prisma.passwordResetToken.create({
    data: { userId: id, tokenHash: hashToken(`r-${id}`), expiresAt: T0, requestedIp: '198.51.100.7' },
  });
  await db.prisma.passwordHistory.create({ data: { userId: id, passwordHash } });
  await db.prisma.mfaFactor.create({
    data: { userId: id, type: 'SMS', phoneNumber: '+15550002222', verifiedAt: T0 },
  });
  await db.prisma.backupCode.create({ data: { userId: id, codeHash: hashToken(`b-${id}`) } });
  await db.prisma.notificationPreference.create({
    data: { userId: id, channel: 'EMAIL', category: 'product', enabled: true },
  });
  await db.prisma.unsubscribeReceipt.create({
    data: { id: randomUUID(), userId: id, channel: 'EMAIL', category: 'product' },
  });
  await db.prisma.dataExport.create({
    data: { userId: id, status: 'READY', storageKey: `exports/${id}/e1.json` },
  });
  const role = await db.prisma.role.upsert({
    where: { name: 'member' },
    create: { name: 'member' },
    update: {},
  });
  await db.prisma.userRole.create({ data: { userId: id, roleId: role.id } });
  const method = await db.prisma.paymentMethod.create({
    data: {
      userId: id,
      provider: 'stripe',
      providerPaymentMethodId: `pm-${id}`,
      brand: 'visa',
      last4: '4242',
    },
  });
  const subscription = await db.prisma.subscription.create({
    data: {
      userId: id,
      planId: await plan(),
      priceAmount: 2900,
      currency: 'EUR',
      status: 'ACTIVE',
      currentPeriodStart: T0,
      billingCycleAnchor: T0,
      currentPeriodEnd: new Date(T0.getTime() + 30 * DAY_MS),
    },
  });
  const invoice = await db.prisma.invoice.create({
    data: {
      number: `INV-${id}`,
      userId: id,
      subscriptionId: subscription.id,
      status: 'PAID',
      currency: 'EUR',
      subtotalAmount: 1000,
      taxAmount: 200,
      totalAmount: 1200,
      amountPaid: 1200,
      amountDue: 0,
    },
  });
  const payment = await db.prisma.payment.create({
    data: {
      userId: id,
      invoiceId: invoice.id,
      paymentMethodId: method.id,
      amount: 1200,
      currency: 'EUR',
      status: 'SUCCEEDED',
      idempotencyKey: `pay-${id}`,
    },
  });
  await db.prisma.emailDelivery.create({
    data: { userId: id, template: 'welcome', recipient: email, subject: 'Welcome', payloadEncrypted: 'env' },
  });
  // A mail to the address sent without a user id (a registration notice, say).
  await db.prisma.emailDelivery.create({
    data: {
      template: 'verify-email',
      recipient: email,
      subject: 'Verify',
      lastError: `550 ${email} unknown`,
    },
  });
  await createAuditLog(db.prisma).record({
    action: 'LOGIN_SUCCEEDED',
    outcome: 'SUCCESS',
    actorUserId: id,
    targetType: 'User',
    targetId: id,
    ip: '198.51.100.7',
    userAgent: 'Safari',
    metadata: { via: 'password', email },
  });
  await createAuditLog(db.prisma).record({
    action: 'SESSION_REVOKED',
    outcome: 'SUCCESS',
    actorUserId: id,
    targetType: 'Session',
    targetId: randomUUID(),
    ip: '198.51.100.7',
  });
  const files = [
    `${avatarStoragePrefix(id)}u1/original.webp`,
    `${avatarStoragePrefix(id)}u1/150.webp`,
    `${exportStoragePrefix(id)}e1.json`,
  ];
  for (const key of files)
    await storage.put(key, Buffer.from(key), { contentType: 'application/octet-stream' });
  return { id, email, subscriptionId: subscription.id, invoiceId: invoice.id, paymentId: payment.id, files };
}

/** Everything the database holds about `userId`, per table, for before/after comparisons. */
async function snapshot(userId: string, email: string) {
  const where = { userId };
  return {
    user: await db.prisma.user.findUnique({ where: { id: userId } }),
    profile: await db.prisma.userProfile.findUnique({ where }),
    oauthAccounts: await db.prisma.oAuthAccount.findMany({ where }),
    sessions: await db.prisma.session.findMany({ where }),
    verificationTokens: await db.prisma.verificationToken.findMany({ where }),
    passwordResetTokens: await db.prisma.passwordResetToken.findMany({ where }),
    passwordHistory: await db.prisma.passwordHistory.findMany({ where }),
    mfaFactors: await db.prisma.mfaFactor.findMany({ where }),
    backupCodes: await db.prisma.backupCode.findMany({ where }),
    notificationPreferences: await db.prisma.notificationPreference.findMany({ where }),
    unsubscribeReceipts: await db.prisma.unsubscribeReceipt.findMany({ where }),
    dataExports: await db.prisma.dataExport.findMany({ where }),
    paymentMethods: await db.prisma.paymentMethod.findMany({ where }),
    userRoles: await db.prisma.userRole.findMany({ where }),
    subscriptions: await db.prisma.subscription.findMany({ where }),
    invoices: await db.prisma.invoice.findMany({ where }),
    payments: await db.prisma.payment.findMany({ where }),
    emailDeliveries: await db.prisma.emailDelivery.findMany({
      where: { OR: [{ userId }, { recipient: email }] },
      orderBy: { createdAt: 'asc' },
    }),
    auditLogs: await db.prisma.auditLog.findMany({
      where: { OR: [{ actorUserId: userId }, { targetId: userId }] },
      orderBy: { createdAt: 'asc' },
    }),
  };
}

async function storedFiles(keys: string[]): Promise<boolean[]> {
  return Promise.all(keys.map(async (key) => (await storage.get(key)) !== null));
}

describe('purgeDeleted', () => {
  it('purges a deleted account 30 days later: personal data gone, billing kept, audit pseudonymised', async () => {
    const leaving = service();
    const leaver = await seedUser('leaver');
    const bystander = await seedUser('bystander');
    // An administrator acted on the leaver: the entry stays the administrator's, about a pseudonym.
    await createAuditLog(db.prisma).record({
      action: 'SESSIONS_REVOKED',
      outcome: 'SUCCESS',
      actorUserId: bystander.id,
      targetType: 'User',
      targetId: leaver.id,
      ip: '192.0.2.1',
    });

    clock.now = T0;
    await leaving.delete(leaver.id, PASSWORD, client);
    const bystanderBefore = await snapshot(bystander.id, bystander.email);
    const leaverBefore = await snapshot(leaver.id, leaver.email);

    clock.now = new Date(T0.getTime() + 29 * DAY_MS);
    expect(await leaving.purgeDeleted()).toEqual({ purged: 0, failed: 0 });
    expect(await snapshot(leaver.id, leaver.email)).toEqual(leaverBefore);
    expect(await storedFiles(leaver.files)).toEqual([true, true, true]);

    clock.now = new Date(T0.getTime() + 31 * DAY_MS);
    expect(await leaving.purgeDeleted()).toEqual({ purged: 1, failed: 0 });

    const after = await snapshot(leaver.id, leaver.email);
    // The users row stays, anonymised, still DELETED since the same moment.
    expect(after.user).toMatchObject({
      id: leaver.id,
      email: purgedEmail(leaver.id),
      status: 'DELETED',
      deletedAt: T0,
      emailVerified: false,
      emailVerifiedAt: null,
      passwordHash: null,
      passwordChangedAt: null,
      mfaEnabled: false,
      mfaEnabledAt: null,
      failedLoginCount: 0,
      lastFailedLoginAt: null,
      lockedUntil: null,
      lastLoginAt: null,
    });
    expect(after.user!.createdAt).toEqual(leaverBefore.user!.createdAt);
    for (const table of [
      'profile',
      'oauthAccounts',
      'sessions',
      'verificationTokens',
      'passwordResetTokens',
      'passwordHistory',
      'mfaFactors',
      'backupCodes',
      'notificationPreferences',
      'unsubscribeReceipts',
      'dataExports',
      'paymentMethods',
      'userRoles',
    ] as const) {
      expect([table, after[table]]).toEqual([table, table === 'profile' ? null : []]);
    }

    // Billing records are kept as they were and still point at the (anonymised) user row.
    expect(after.subscriptions).toEqual(leaverBefore.subscriptions);
    expect(after.invoices).toEqual(leaverBefore.invoices);
    expect(after.payments).toEqual(
      leaverBefore.payments.map((payment) => ({ ...payment, paymentMethodId: null })),
    );
    expect(after.payments.map((p) => [p.id, p.userId, p.invoiceId])).toEqual([
      [leaver.paymentId, leaver.id, leaver.invoiceId],
    ]);

    // Mail deliveries: no address, no link to the user, no payload, no error quoting the address.
    const deliveryIds = leaverBefore.emailDeliveries.map((delivery) => delivery.id);
    expect(deliveryIds).toHaveLength(3); // welcome, the address-only one, account-deleted
    const deliveries = await db.prisma.emailDelivery.findMany({ where: { id: { in: deliveryIds } } });
    expect(deliveries).toHaveLength(3);
    for (const delivery of deliveries) {
      expect(delivery).toMatchObject({
        userId: null,
        recipient: REDACTED_RECIPIENT,
        payloadEncrypted: null,
        lastError: null,
      });
    }
    expect(after.emailDeliveries).toEqual([]);

    // Audit: every entry about the leaver now names the same pseudonym, with no network data and no address.
    const pseudonym = pseudonymizeUserId(pseudonymKey, leaver.id);
    expect(after.auditLogs).toEqual([]);
    const auditIds = leaverBefore.auditLogs.map((entry) => entry.id);
    // Written within the same millisecond at times: compared in action order, not time order.
    const byAction = <T extends { action: string }>(entries: T[]) =>
      [...entries].sort((a, b) => a.action.localeCompare(b.action));
    const sessionRevoked = leaverBefore.auditLogs.find((entry) => entry.action === 'SESSION_REVOKED')!;
    expect(sessionRevoked.ipAddress).toBe('198.51.100.7');
    const audit = byAction(await db.prisma.auditLog.findMany({ where: { id: { in: auditIds } } }));
    expect(
      audit.map((entry) => [
        entry.action,
        entry.actorUserId,
        entry.targetType,
        entry.targetId,
        entry.ipAddress,
      ]),
    ).toEqual([
      ['ACCOUNT_DELETED', pseudonym, 'User', pseudonym, null],
      ['LOGIN_SUCCEEDED', pseudonym, 'User', pseudonym, null],
      ['SESSION_REVOKED', pseudonym, 'Session', sessionRevoked.targetId, null],
      ['SESSIONS_REVOKED', bystander.id, 'User', pseudonym, null],
    ]);
    expect(audit.every((entry) => entry.userAgent === null)).toBe(true);
    expect(audit[1]!.metadata).toEqual({ via: 'password', outcome: 'SUCCESS' });
    const purgedEntry = await db.prisma.auditLog.findFirstOrThrow({ where: { action: 'ACCOUNT_PURGED' } });
    expect(purgedEntry).toMatchObject({ actorUserId: null, targetType: 'User', targetId: pseudonym });
    expect(purgedEntry.metadata).toMatchObject({
      outcome: 'SUCCESS',
      sessions: 1,
      oauthAccounts: 1,
      auditLogs: 4,
    });

    // Nothing anywhere still holds the address.
    const mentions = await db.pool.query(
      `SELECT (SELECT count(*) FROM users WHERE email = $1)
            + (SELECT count(*) FROM email_deliveries WHERE recipient = $1 OR last_error LIKE '%' || $1 || '%')
            + (SELECT count(*) FROM oauth_accounts WHERE email = $1)
            + (SELECT count(*) FROM audit_logs WHERE metadata::text LIKE '%' || $1 || '%') AS n`,
      [leaver.email],
    );
    expect(Number(mentions.rows[0].n)).toBe(0);

    // Files: the leaver's are gone, the bystander's untouched.
    expect(await storedFiles(leaver.files)).toEqual([false, false, false]);
    expect(await storedFiles(bystander.files)).toEqual([true, true, true]);

    // The bystander, who acted on the leaver, keeps everything else as it was.
    const bystanderAfter = await snapshot(bystander.id, bystander.email);
    expect({ ...bystanderAfter, auditLogs: [] }).toEqual({ ...bystanderBefore, auditLogs: [] });
    expect(bystanderAfter.auditLogs.map((entry) => entry.id).sort()).toEqual(
      bystanderBefore.auditLogs.map((entry) => entry.id).sort(),
    );

    // Idempotent: a second run finds nothing and changes nothing.
    const settled = await snapshot(leaver.id, leaver.email);
    clock.now = new Date(T0.getTime() + 32 * DAY_MS);
    expect(await leaving.purgeDeleted()).toEqual({ purged: 0, failed: 0 });
    expect(await snapshot(leaver.id, leaver.email)).toEqual(settled);
    expect(await db.prisma.auditLog.count({ where: { action: 'ACCOUNT_PURGED' } })).toBe(1);
  });

  it('leaves a user whose purge fails entirely untouched, purges the others, and finishes it on the next run', async () => {
    const deletedAt = new Date(T0.getTime() - 40 * DAY_MS);
    const users = [await seedUser('a'), await seedUser('b'), await seedUser('c')];
    for (const user of users) {
      await db.prisma.user.update({ where: { id: user.id }, data: { status: 'DELETED', deletedAt } });
    }
    const broken = users[1]!;
    const before = await snapshot(broken.id, broken.email);
    const failingStorage: AccountFileStorage = {
      deletePrefix: async (prefix) => {
        if (prefix.includes(broken.id)) throw new Error('storage unavailable');
        return storage.deletePrefix(prefix);
      },
    };
    clock.now = T0;
    expect(await service({ storage: failingStorage }).purgeDeleted()).toEqual({ purged: 2, failed: 1 });
    expect(await snapshot(broken.id, broken.email)).toEqual(before);
    expect(await storedFiles(broken.files)).toEqual([true, true, true]);
    for (const user of [users[0]!, users[2]!]) {
      expect((await db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).email).toBe(
        purgedEmail(user.id),
      );
    }

    expect(await service().purgeDeleted()).toEqual({ purged: 1, failed: 0 });
    expect((await db.prisma.user.findUniqueOrThrow({ where: { id: broken.id } })).email).toBe(
      purgedEmail(broken.id),
    );
    expect(await storedFiles(broken.files)).toEqual([false, false, false]);
  });

  it('two purges running at once take each user exactly once', async () => {
    const deletedAt = new Date(T0.getTime() - 31 * DAY_MS);
    const users = await Promise.all(['p', 'q', 'r', 's'].map((label) => seedUser(label)));
    await db.prisma.user.updateMany({
      where: { id: { in: users.map((user) => user.id) } },
      data: { status: 'DELETED', deletedAt },
    });
    clock.now = T0;
    const [first, second] = await Promise.all([service().purgeDeleted(), service().purgeDeleted()]);
    expect(first.purged + second.purged).toBe(4);
    expect(first.failed + second.failed).toBe(0);
    const purgedEntries = await db.prisma.auditLog.findMany({
      where: {
        action: 'ACCOUNT_PURGED',
        targetId: { in: users.map((user) => pseudonymizeUserId(pseudonymKey, user.id)) },
      },
    });
    expect(purgedEntries).toHaveLength(4);
  });

  it('honours olderThanDays and ignores accounts that are not deleted', async () => {
    const recent = await seedUser('recent');
    const deactivated = await seedUser('deactivated');
    await db.prisma.user.update({
      where: { id: recent.id },
      data: { status: 'DELETED', deletedAt: new Date(T0.getTime() - 3 * DAY_MS) },
    });
    await db.prisma.user.update({
      where: { id: deactivated.id },
      data: { status: 'DEACTIVATED', deletedAt: null },
    });
    clock.now = T0;
    const leaving = service();
    expect(await leaving.purgeDeleted()).toEqual({ purged: 0, failed: 0 });
    expect(await leaving.purgeDeleted({ olderThanDays: 2 })).toEqual({ purged: 1, failed: 0 });
    expect((await db.prisma.user.findUniqueOrThrow({ where: { id: recent.id } })).email).toBe(
      purgedEmail(recent.id),
    );
    expect((await db.prisma.user.findUniqueOrThrow({ where: { id: deactivated.id } })).email).toBe(
      deactivated.email,
    );
    await expect(leaving.purgeDeleted({ olderThanDays: -1 })).rejects.toThrow(RangeError);
  });
});
