import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEnvelopeCipher } from '@gatehouse/crypto';
import { AppError } from '@gatehouse/errors';
import { MemoryJobQueue, RedisJobQueue, type JobQueue, type JobQueueLogger } from '@gatehouse/jobs';
import { createLogger } from '@gatehouse/logger';
import {
  createMailer,
  createSmtpTransport,
  extractLinks,
  startMailWorker,
  type MailLogger,
  type MailTransport,
  type Mailer,
} from '@gatehouse/mail';
import { startHttpService, type HttpService, type RouteHandler } from '@gatehouse/service';
import {
  createFileRoutes,
  createFilesystemStorage,
  type FilesystemStorage,
  type ObjectStorage,
} from '@gatehouse/storage';
import {
  createTestDatabase,
  deleteRedisKeys,
  redisUrlForTests,
  startTestSmtpServer,
  uniqueTestPrefix,
  waitFor,
  type TestDatabase,
  type TestSmtpServer,
} from '@gatehouse/testing';
import { registerDataExportJob } from './data-export.job';
import { createDataExportRepository } from './data-export.repository';
import {
  DATA_EXPORT_JOB,
  DATA_EXPORT_REQUESTED_ACTION,
  createDataExportService,
  dataExportKey,
  type DataExportClient,
  type DataExportService,
  type DataExportServiceOptions,
} from './data-export.service';
import { DataExportErrorCode, DataExportFailure } from './error-codes';
import { createUserDataExportReader } from './user-data.repository';
import { USER_EXPORT_FORMAT, type UserDataDocument } from './user-data.types';

const DAY_MS = 24 * 60 * 60 * 1000;
const SECRET = 'data-export-test-signing-secret-0123456789';
const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const logger = createLogger({ name: 'data-export-test', level: 'silent' });
const quietJobs: JobQueueLogger = { warn: () => undefined, error: () => undefined };
const quietMail: MailLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const client: DataExportClient = {
  ip: '203.0.113.50',
  userAgent: 'ExportTest/1.0',
  requestId: 'req-export-1',
};
const redisUrl = redisUrlForTests('@gatehouse/subgraph-account data export');
const redisPrefix = uniqueTestPrefix();

let db: TestDatabase;
let smtp: TestSmtpServer;
let http: HttpService;
let transport: MailTransport;
let workDir: string;
let storage: FilesystemStorage;
const clock = { now: new Date('2031-05-01T09:00:00.000Z') };
const advance = (ms: number) => (clock.now = new Date(clock.now.getTime() + ms));
/** Every queue made here, closed at the end. */
const queues: JobQueue[] = [];

beforeAll(async () => {
  [db, smtp] = await Promise.all([createTestDatabase(), startTestSmtpServer()]);
  workDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-export-'));
  let routes: RouteHandler = async () => false;
  http = await startHttpService({
    name: 'files',
    host: '127.0.0.1',
    port: 0,
    logger,
    readinessChecks: {},
    routes: (req, res, requestId) => routes(req, res, requestId),
  });
  storage = createFilesystemStorage({
    rootDir: path.join(workDir, 'storage'),
    publicBaseUrl: `${http.url}/files`,
    signingSecret: SECRET,
    now: () => clock.now,
  });
  routes = createFileRoutes(storage);
  transport = createSmtpTransport({ url: smtp.url, from: 'Gatehouse <no-reply@gatehouse.test>' });
});

afterAll(async () => {
  await Promise.all(queues.map((queue) => queue.close()));
  await transport?.close();
  await http?.stop();
  await smtp?.close();
  await db?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

interface Harness {
  service: DataExportService;
  queue: JobQueue;
  mailer: Mailer;
}

/** A service with a mail worker delivering to the test SMTP server; `jobs: false` leaves export jobs waiting. */
function harness(
  options: { jobs?: boolean; queue?: JobQueue } & Partial<DataExportServiceOptions> = {},
): Harness {
  const { jobs = true, queue = new MemoryJobQueue({ logger: quietJobs }), ...overrides } = options;
  queues.push(queue);
  const mailer = createMailer({ prisma: db.prisma, jobQueue: queue, cipher, logger: quietMail });
  startMailWorker({ prisma: db.prisma, jobQueue: queue, transport, cipher, logger: quietMail });
  const service = createDataExportService({
    repository: createDataExportRepository(db.prisma),
    exportReader: createUserDataExportReader(db.prisma),
    jobQueue: queue,
    storage,
    mailer,
    now: () => clock.now,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    ...overrides,
  });
  if (jobs) registerDataExportJob({ jobQueue: queue, service });
  return { service, queue, mailer };
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; details: unknown }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return { code: error.code, details: error.details };
}

async function settled(exportId: string) {
  return waitFor(
    async () => {
      const row = await db.prisma.dataExport.findUniqueOrThrow({ where: { id: exportId } });
      return row.status === 'READY' || row.status === 'FAILED' ? row : undefined;
    },
    { timeoutMs: 10_000, what: `export ${exportId} to finish` },
  );
}

interface RawResponse {
  status: number;
  body: string;
  headers: Headers;
}

async function download(url: string): Promise<RawResponse> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text(), headers: response.headers };
}

const at = (iso: string) => new Date(iso);
const marker = (kind: string) => `SECRET-${kind}-${randomBytes(6).toString('hex')}`;

/** Markers of every secret column seeded, to search the raw export for. */
interface Seeded {
  userId: string;
  email: string;
  secrets: string[];
  /** Values that belong to the user's account but must never appear in their export (other people's data). */
  foreign: string[];
}

let planCounter = 0;

/** The job queues the end-to-end run is repeated with: always in-process, and BullMQ when Redis is there. */
const queueKinds: [string, () => JobQueue][] = [
  ['in-process queue', () => new MemoryJobQueue({ logger: quietJobs })],
];
if (redisUrl) {
  queueKinds.push([
    'BullMQ queue',
    () => new RedisJobQueue({ redisUrl, prefix: redisPrefix, logger: quietJobs }),
  ]);
}

/** A user with at least one row in every table the export reads, plus secrets in every secret column. */
async function seedUser(label: string, admin?: { id: string }): Promise<Seeded> {
  const p = db.prisma;
  const tag = `${label.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  const secrets: string[] = [];
  const secret = (kind: string) => {
    const value = marker(kind);
    secrets.push(value);
    return value;
  };
  const email = `${tag}@example.test`;
  const user = await p.user.create({
    data: {
      email,
      status: 'ACTIVE',
      emailVerified: true,
      emailVerifiedAt: at('2030-01-02T10:00:00.123Z'),
      passwordHash: secret('password-hash'),
      passwordChangedAt: at('2030-02-01T08:00:00.000Z'),
      mfaEnabled: true,
      mfaEnabledAt: at('2030-02-03T08:00:00.000Z'),
      failedLoginCount: 2,
      lastFailedLoginAt: at('2031-04-30T22:00:00.000Z'),
      lastLoginAt: at('2031-04-30T23:00:00.000Z'),
      createdAt: at('2030-01-01T00:00:00.000Z'),
    },
  });
  const userId = user.id;
  await p.userProfile.create({
    data: {
      userId,
      displayName: `${label} Lovelace`,
      bio: 'Writes <b>notes</b> on engines',
      phone: '+15558674567',
      locale: 'en-GB',
      timezone: 'Europe/London',
      avatarUrl: `https://cdn.example.test/public/avatars/${userId}/a1/150.webp`,
      avatarKey: `public/avatars/${userId}/a1`,
    },
  });
  await p.notificationPreference.createMany({
    data: [
      { userId, channel: 'EMAIL', category: 'product', enabled: false },
      { userId, channel: 'PUSH', category: 'billing', enabled: true },
    ],
  });
  await p.unsubscribeReceipt.create({
    data: { id: randomUUID(), userId, channel: 'EMAIL', category: 'product' },
  });
  await p.session.create({
    data: {
      userId,
      refreshTokenHash: secret('refresh-hash'),
      deviceName: 'iPhone',
      deviceType: 'mobile',
      os: 'iOS 17.1',
      browser: 'Safari 17.1',
      userAgent: `Mozilla/5.0 (${tag})`,
      ipAddress: '203.0.113.9',
      country: 'DE',
      city: 'Berlin',
      lastActivityAt: at('2031-04-30T23:30:00.000Z'),
      expiresAt: at('2031-05-30T23:00:00.000Z'),
      createdAt: at('2031-04-30T23:00:00.000Z'),
    },
  });
  await p.session.create({
    data: {
      userId,
      refreshTokenHash: secret('refresh-hash-2'),
      ipAddress: '198.51.100.7',
      expiresAt: at('2031-04-01T00:00:00.000Z'),
      revokedAt: at('2031-03-20T00:00:00.000Z'),
      revokeReason: 'LOGOUT',
      createdAt: at('2031-03-01T00:00:00.000Z'),
    },
  });
  await p.oAuthAccount.create({
    data: {
      userId,
      provider: 'github',
      providerAccountId: `gh-${tag}`,
      email: `${tag}@users.noreply.github.test`,
      emailVerified: true,
      accessTokenEncrypted: secret('oauth-access'),
      refreshTokenEncrypted: secret('oauth-refresh'),
      tokenExpiresAt: at('2031-06-01T00:00:00.000Z'),
      scope: 'read:user user:email',
    },
  });
  await p.mfaFactor.createMany({
    data: [
      {
        userId,
        type: 'TOTP',
        label: 'Authenticator',
        secretEncrypted: secret('totp-secret'),
        lastUsedStep: 123456,
        verifiedAt: at('2030-02-03T08:00:00.000Z'),
        lastUsedAt: at('2031-04-30T23:00:01.000Z'),
        createdAt: at('2030-02-03T07:59:00.000Z'),
      },
      {
        userId,
        type: 'SMS',
        label: 'Phone',
        phoneNumber: '+15558674567',
        verifiedAt: at('2030-02-04T08:00:00.000Z'),
        createdAt: at('2030-02-04T07:59:00.000Z'),
      },
      {
        userId,
        type: 'EMAIL',
        email: `${tag}-mfa@example.test`,
        createdAt: at('2030-02-05T07:59:00.000Z'),
      },
    ],
  });
  await p.backupCode.createMany({
    data: [
      { userId, codeHash: secret('backup-code') },
      { userId, codeHash: secret('backup-code-used'), usedAt: at('2031-01-01T00:00:00.000Z') },
    ],
  });
  await p.verificationToken.create({
    data: {
      userId,
      email: `${tag}-new@example.test`,
      tokenHash: secret('verify-token'),
      expiresAt: at('2031-05-02T00:00:00.000Z'),
    },
  });
  await p.passwordResetToken.create({
    data: {
      userId,
      tokenHash: secret('reset-token'),
      requestedIp: '192.0.2.44',
      expiresAt: at('2031-04-01T00:30:00.000Z'),
      consumedAt: at('2031-04-01T00:10:00.000Z'),
    },
  });
  await p.passwordHistory.create({ data: { userId, passwordHash: secret('old-password-hash') } });
  const role = await p.role.create({ data: { name: `role-${tag}`, description: 'Test role' } });
  await p.userRole.create({
    data: { userId, roleId: role.id, scope: 'org:acme', grantedById: admin?.id ?? null },
  });
  planCounter += 1;
  const plan = await p.subscriptionPlan.create({
    data: {
      code: `pro-${planCounter}-${tag}`,
      name: 'Pro',
      priceAmount: 1900,
      currency: 'EUR',
      interval: 'MONTH',
    },
  });
  const subscription = await p.subscription.create({
    data: {
      userId,
      planId: plan.id,
      priceAmount: 1900,
      currency: 'EUR',
      status: 'ACTIVE',
      currentPeriodStart: at('2031-04-15T00:00:00.000Z'),
      billingCycleAnchor: at('2031-04-15T00:00:00.000Z'),
      currentPeriodEnd: at('2031-05-15T00:00:00.000Z'),
      providerSubscriptionId: secret('provider-subscription'),
    },
  });
  await p.usageRecord.create({
    data: {
      subscriptionId: subscription.id,
      metric: 'api_calls',
      quantity: 9_007_199_254_740_993n,
      periodStart: at('2031-04-15T00:00:00.000Z'),
      idempotencyKey: secret('usage-key'),
    },
  });
  const method = await p.paymentMethod.create({
    data: {
      userId,
      provider: 'stripe',
      providerPaymentMethodId: secret('provider-pm'),
      brand: 'visa',
      last4: '4242',
      expMonth: 12,
      expYear: 2033,
      isDefault: true,
    },
  });
  const invoice = await p.invoice.create({
    data: {
      number: `GH-${tag}`,
      userId,
      subscriptionId: subscription.id,
      status: 'PAID',
      currency: 'EUR',
      subtotalAmount: 1900,
      taxAmount: 361,
      totalAmount: 2261,
      amountPaid: 2261,
      amountDue: 0,
      periodStart: at('2031-04-15T00:00:00.000Z'),
      periodEnd: at('2031-05-15T00:00:00.000Z'),
      dueAt: at('2031-04-15T00:00:00.000Z'),
      paidAt: at('2031-04-15T00:01:00.000Z'),
      providerInvoiceId: secret('provider-invoice'),
      billingReason: 'SUBSCRIPTION_CYCLE',
      taxRateBps: 1900,
      lineItems: {
        create: [
          { position: 0, kind: 'SUBSCRIPTION', description: `Pro ${tag}`, unitAmount: 2400, amount: 2400 },
          { position: 1, kind: 'CREDIT', description: `Credit ${tag}`, unitAmount: -500, amount: -500 },
        ],
      },
    },
  });
  await p.billingCustomer.create({
    data: { userId, providerCustomerId: `cus_${tag}`, creditBalance: 250, currency: 'EUR', country: 'DE' },
  });
  await p.apiKey.create({
    data: {
      userId,
      name: `Server ${tag}`,
      prefix: `pfx${tag}`,
      secretHash: secret('api-key-hash'),
      scopes: ['usage:write'],
    },
  });
  await p.webhookEndpoint.create({
    data: {
      userId,
      url: `https://hooks.example.test/${tag}`,
      secretEncrypted: secret('webhook-secret'),
      eventTypes: ['payment.succeeded'],
    },
  });
  await p.payment.create({
    data: {
      userId,
      invoiceId: invoice.id,
      paymentMethodId: method.id,
      amount: 2261,
      currency: 'EUR',
      status: 'SUCCEEDED',
      attemptCount: 1,
      succeededAt: at('2031-04-15T00:01:00.000Z'),
      providerPaymentId: secret('provider-payment'),
      idempotencyKey: secret('payment-key'),
    },
  });
  await p.emailDelivery.create({
    data: {
      userId,
      template: 'welcome',
      recipient: email,
      subject: 'Welcome to Gatehouse',
      status: 'SENT',
      attempts: 1,
      providerMessageId: secret('message-id'),
      idempotencyKey: secret('mail-key'),
      payloadEncrypted: secret('mail-payload'),
      sentAt: at('2030-01-01T00:00:05.000Z'),
    },
  });
  const foreign: string[] = [];
  await p.auditLog.create({
    data: {
      action: 'LOGIN_SUCCEEDED',
      actorUserId: userId,
      targetType: 'User',
      targetId: userId,
      ipAddress: '203.0.113.9',
      userAgent: `Mozilla/5.0 (${tag})`,
      metadata: { outcome: 'SUCCESS', method: 'password' },
      createdAt: at('2031-04-30T23:00:00.000Z'),
    },
  });
  if (admin) {
    const adminIp = '192.0.2.200';
    const adminAgent = `AdminConsole/${tag}`;
    foreign.push(admin.id, adminIp, adminAgent);
    await p.auditLog.create({
      data: {
        action: 'SESSIONS_REVOKED',
        actorUserId: admin.id,
        targetType: 'User',
        targetId: userId,
        ipAddress: adminIp,
        userAgent: adminAgent,
        metadata: { outcome: 'SUCCESS', reason: 'ADMIN_REVOKED' },
        createdAt: at('2031-04-20T10:00:00.000Z'),
      },
    });
  }
  await p.auditLog.create({
    data: {
      action: 'ACCOUNT_LOCKED',
      targetType: 'User',
      targetId: userId,
      metadata: { outcome: 'SUCCESS' },
      createdAt: at('2031-04-10T10:00:00.000Z'),
    },
  });
  await p.dataExport.create({
    data: {
      userId,
      status: 'EXPIRED',
      storageKey: dataExportKey(userId, randomUUID()),
      sizeBytes: 1234,
      requestedAt: at('2031-01-01T00:00:00.000Z'),
      completedAt: at('2031-01-01T00:01:00.000Z'),
      expiresAt: at('2031-01-08T00:01:00.000Z'),
    },
  });
  return { userId, email, secrets, foreign };
}

/** Dates to ISO strings, recursively: what the document holds for timestamptz columns. */
function jsonish(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(jsonish);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonish(item)]));
  }
  return value;
}

/** What the database holds about `userId`, read with plain SQL (independently of the export's Prisma selects). */
async function expectedFromDatabase(userId: string) {
  const q = async (sql: string) =>
    jsonish((await db.pool.query(sql, [userId])).rows) as Record<string, unknown>[];
  const [account] = await q(
    `SELECT id, email, status::text AS status, email_verified AS "emailVerified",
            email_verified_at AS "emailVerifiedAt", password_hash IS NOT NULL AS "hasPassword",
            password_changed_at AS "passwordChangedAt", mfa_enabled AS "mfaEnabled", mfa_enabled_at AS "mfaEnabledAt",
            failed_login_count AS "failedLoginCount", last_failed_login_at AS "lastFailedLoginAt",
            locked_until AS "lockedUntil", last_login_at AS "lastLoginAt", deleted_at AS "deletedAt",
            created_at AS "createdAt", updated_at AS "updatedAt"
       FROM users WHERE id = $1`,
  );
  const [profile] = await q(
    `SELECT display_name AS "displayName", bio, phone, locale, timezone, avatar_url AS "avatarUrl",
            created_at AS "createdAt", updated_at AS "updatedAt" FROM user_profiles WHERE user_id = $1`,
  );
  const [backupCodes] = await q(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE used_at IS NULL)::int AS unused
       FROM backup_codes WHERE user_id = $1`,
  );
  const factors = await q(
    `SELECT type::text AS type, label, phone_number AS "phoneNumber", email, verified_at AS "verifiedAt",
            last_used_at AS "lastUsedAt", created_at AS "createdAt" FROM mfa_factors WHERE user_id = $1
      ORDER BY created_at, id`,
  );
  return {
    account,
    profile,
    backupCodes,
    notificationPreferences: await q(
      `SELECT channel::text AS channel, category, enabled, created_at AS "createdAt", updated_at AS "updatedAt"
         FROM notification_preferences WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    unsubscribeReceipts: await q(
      `SELECT channel::text AS channel, category, used_at AS "usedAt" FROM unsubscribe_receipts
        WHERE user_id = $1 ORDER BY used_at, id`,
    ),
    sessions: await q(
      `SELECT id, device_name AS "deviceName", device_type AS "deviceType", os, browser, user_agent AS "userAgent",
              ip_address AS "ipAddress", country, city, created_at AS "createdAt",
              last_activity_at AS "lastActivityAt", expires_at AS "expiresAt", revoked_at AS "revokedAt",
              revoke_reason::text AS "revokeReason"
         FROM sessions WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    oauthAccounts: await q(
      `SELECT provider, provider_account_id AS "providerAccountId", email, email_verified AS "emailVerified", scope,
              created_at AS "linkedAt", updated_at AS "updatedAt"
         FROM oauth_accounts WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    factors,
    emailVerifications: await q(
      `SELECT email, created_at AS "requestedAt", expires_at AS "expiresAt", consumed_at AS "consumedAt"
         FROM verification_tokens WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    passwordResets: await q(
      `SELECT created_at AS "requestedAt", requested_ip AS "requestedIp", expires_at AS "expiresAt",
              consumed_at AS "consumedAt" FROM password_reset_tokens WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    passwordHistory: await q(
      `SELECT created_at AS "changedAt" FROM password_history WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    roles: await q(
      `SELECT r.name, ur.scope, ur.created_at AS "grantedAt", ur.expires_at AS "expiresAt"
         FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1 ORDER BY ur.created_at, ur.id`,
    ),
    subscriptions: await q(
      `SELECT s.id, json_build_object('code', p.code, 'name', p.name) AS plan, s.status::text AS status,
              s.trial_ends_at AS "trialEndsAt", s.current_period_start AS "currentPeriodStart",
              s.current_period_end AS "currentPeriodEnd", s.cancel_at_period_end AS "cancelAtPeriodEnd",
              s.canceled_at AS "canceledAt", s.ended_at AS "endedAt", s.created_at AS "createdAt"
         FROM subscriptions s JOIN subscription_plans p ON p.id = s.plan_id WHERE s.user_id = $1
        ORDER BY s.created_at, s.id`,
    ),
    usageRecords: await q(
      `SELECT u.subscription_id AS "subscriptionId", u.metric, u.quantity::text AS quantity,
              u.period_start AS "periodStart", u.recorded_at AS "recordedAt"
         FROM usage_records u JOIN subscriptions s ON s.id = u.subscription_id WHERE s.user_id = $1
        ORDER BY u.recorded_at, u.id`,
    ),
    invoices: await q(
      `SELECT id, number, subscription_id AS "subscriptionId", status::text AS status, currency,
              subtotal_amount AS "subtotalAmount", tax_amount AS "taxAmount", total_amount AS "totalAmount",
              amount_paid AS "amountPaid", amount_due AS "amountDue", period_start AS "periodStart",
              period_end AS "periodEnd", due_at AS "dueAt", paid_at AS "paidAt", created_at AS "createdAt",
              billing_reason::text AS "billingReason", tax_rate_bps AS "taxRateBps", credit_applied AS "creditApplied",
              (SELECT coalesce(json_agg(json_build_object('kind', l.kind, 'description', l.description,
                        'quantity', l.quantity, 'unitAmount', l.unit_amount, 'amount', l.amount,
                        'periodStart', l.period_start, 'periodEnd', l.period_end) ORDER BY l.position, l.id), '[]')
                 FROM invoice_line_items l WHERE l.invoice_id = invoices.id) AS lines
         FROM invoices WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    apiKeys: await q(
      `SELECT id, name, prefix, scopes, last_used_at AS "lastUsedAt", expires_at AS "expiresAt",
              revoked_at AS "revokedAt", created_at AS "createdAt"
         FROM api_keys WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    webhookEndpoints: await q(
      `SELECT id, url, description, event_types AS events, active, created_at AS "createdAt"
         FROM webhook_endpoints WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    billingCustomer: (
      await q(
        `SELECT provider, provider_customer_id AS "providerCustomerId", credit_balance AS "creditBalance", currency,
                country, created_at AS "createdAt" FROM billing_customers WHERE user_id = $1`,
      )
    )[0],
    payments: await q(
      `SELECT id, invoice_id AS "invoiceId", payment_method_id AS "paymentMethodId", amount, currency,
              status::text AS status, attempt_count AS "attemptCount", failure_code AS "failureCode",
              failure_reason AS "failureReason", succeeded_at AS "succeededAt", created_at AS "createdAt"
         FROM payments WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    paymentMethods: await q(
      `SELECT id, provider, brand, last4, exp_month AS "expMonth", exp_year AS "expYear", is_default AS "isDefault",
              created_at AS "createdAt" FROM payment_methods WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    emailDeliveries: await q(
      `SELECT template, recipient, subject, status::text AS status, created_at AS "createdAt", sent_at AS "sentAt"
         FROM email_deliveries WHERE user_id = $1 ORDER BY created_at, id`,
    ),
    auditLog: await q(
      `SELECT id, created_at AS "at", action, actor_user_id AS "actorUserId", target_type AS "targetType",
              target_id AS "targetId", ip_address AS "ipAddress", user_agent AS "userAgent", metadata
         FROM audit_logs WHERE actor_user_id = $1 OR (target_type = 'User' AND target_id = $1::text)
        ORDER BY created_at, id`,
    ),
    dataExports: await q(
      `SELECT id, status::text AS status, requested_at AS "requestedAt", completed_at AS "completedAt",
              expires_at AS "expiresAt", size_bytes AS "sizeBytes"
         FROM data_exports WHERE user_id = $1 ORDER BY requested_at, id`,
    ),
  };
}

describe('data export of a seeded user', () => {
  let subject: Seeded;
  let other: Seeded;
  let admin: Seeded;
  let h: Harness;

  beforeAll(async () => {
    admin = await seedUser('Carol');
    subject = await seedUser('Ada', { id: admin.userId });
    other = await seedUser('Bob', { id: admin.userId });
    h = harness();
  });

  it('builds the document, mails a 7-day signed link and serves it, field by field equal to the database', async () => {
    const requestedAt = clock.now;
    const view = await h.service.request(subject.userId, client);
    expect(view).toMatchObject({
      status: 'PENDING',
      requestedAt,
      completedAt: null,
      downloadUrl: null,
    });
    const row = await settled(view.id);
    expect(row).toMatchObject({
      status: 'READY',
      error: null,
      storageKey: `exports/${subject.userId}/${view.id}.json`,
      completedAt: clock.now,
      expiresAt: new Date(clock.now.getTime() + 7 * DAY_MS),
    });

    // The mail carries the signed link; following it downloads the document.
    const mail = await smtp.waitForMail((m) => m.envelope.to.includes(subject.email), { timeoutMs: 10_000 });
    expect(mail.subject).toBe('Your Gatehouse data export is ready');
    expect(mail.text).toContain('Hi Ada Lovelace,');
    const [link] = extractLinks(mail.text);
    const signed = new URL(link ?? '');
    expect(signed.origin + signed.pathname).toBe(
      `${http.url}/files/exports/${subject.userId}/${view.id}.json`,
    );
    expect(Number(signed.searchParams.get('expires')) * 1000).toBe(row.expiresAt!.getTime());

    const response = await download(signed.toString());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(Buffer.byteLength(response.body)).toBe(row.sizeBytes);
    const raw = response.body;
    const document = JSON.parse(raw) as UserDataDocument;

    // No secret column, in any form, anywhere in the text.
    expect(subject.secrets.length).toBeGreaterThan(15);
    for (const value of subject.secrets) expect(raw).not.toContain(value);
    expect(raw).not.toContain('SECRET-');
    expect(raw).not.toMatch(/\$argon2|secretEncrypted|passwordHash|tokenHash|codeHash|payloadEncrypted/);
    // Nothing of the other user, nor the administrator's identity, address or browser.
    for (const value of [other.userId, other.email, ...subject.foreign]) expect(raw).not.toContain(value);
    expect(raw).not.toContain('Bob');
    expect(raw).not.toContain('Carol');

    const db$ = await expectedFromDatabase(subject.userId);
    expect(document.format).toBe(USER_EXPORT_FORMAT);
    expect(document.generatedAt).toBe(requestedAt.toISOString());
    expect(document.account).toEqual(db$.account);
    expect(document.account).toMatchObject({ id: subject.userId, email: subject.email, hasPassword: true });
    expect(document.profile).toEqual(db$.profile);
    expect(document.profile?.phone).toBe('+15558674567');
    expect(document.backupCodes).toEqual({ total: 2, unused: 1 });
    expect(document.backupCodes).toEqual(db$.backupCodes);
    expect(document.mfaFactors).toEqual(
      db$.factors.map(({ phoneNumber, email, ...factor }) => ({
        type: factor.type,
        label: factor.label,
        destination: phoneNumber ? '+*******4567' : email ? `${String(email)[0]}***@example.test` : null,
        verifiedAt: factor.verifiedAt,
        lastUsedAt: factor.lastUsedAt,
        createdAt: factor.createdAt,
      })),
    );
    expect(document.auditLog).toEqual(
      db$.auditLog.map(({ actorUserId, ipAddress, userAgent, ...entry }) => {
        const actor = actorUserId === subject.userId ? 'self' : actorUserId === null ? 'system' : 'other';
        return {
          ...entry,
          actor,
          ipAddress: actor === 'self' ? ipAddress : null,
          userAgent: actor === 'self' ? userAgent : null,
        };
      }),
    );
    expect(document.auditLog.map((entry) => `${entry.actor}:${entry.action}`).sort()).toEqual([
      'other:SESSIONS_REVOKED',
      'self:DATA_EXPORT_REQUESTED',
      'self:LOGIN_SUCCEEDED',
      'system:ACCOUNT_LOCKED',
    ]);

    const lists = [
      'notificationPreferences',
      'unsubscribeReceipts',
      'sessions',
      'oauthAccounts',
      'emailVerifications',
      'passwordResets',
      'passwordHistory',
      'roles',
      'subscriptions',
      'usageRecords',
      'invoices',
      'payments',
      'paymentMethods',
      'apiKeys',
      'webhookEndpoints',
      'emailDeliveries',
    ] as const;
    // The export's own mail is queued after the document was built.
    db$.emailDeliveries = db$.emailDeliveries.filter((mail) => mail.template !== 'data-export-ready');
    for (const name of lists) {
      expect({ [name]: document[name] }).toEqual({ [name]: db$[name] });
      expect({ [name]: document[name].length }).not.toEqual({ [name]: 0 });
    }
    expect(document.usageRecords[0]?.quantity).toBe('9007199254740993');
    expect(document.billingCustomer).toEqual(db$.billingCustomer);
    expect(document.billingCustomer?.creditBalance).toBe(250);
    expect(document.invoices[0]?.lines.map((line) => line.amount)).toEqual([2400, -500]);
    expect(document.sessions).toHaveLength(2);
    // The export sees itself RUNNING (it is being built), and the earlier one as the database held it then.
    expect(document.dataExports).toEqual(
      db$.dataExports.map((entry) =>
        entry.id === view.id
          ? { ...entry, status: 'RUNNING', completedAt: null, expiresAt: null, sizeBytes: null }
          : entry,
      ),
    );
    expect(document.dataExports).toHaveLength(2);

    // The request is in the audit trail, with who asked.
    const audit = await db.prisma.auditLog.findFirstOrThrow({
      where: { action: DATA_EXPORT_REQUESTED_ACTION, actorUserId: subject.userId },
    });
    expect(audit).toMatchObject({
      targetType: 'User',
      targetId: subject.userId,
      ipAddress: client.ip,
      userAgent: client.userAgent,
      requestId: client.requestId,
      metadata: { outcome: 'SUCCESS', exportId: view.id },
    });
  });

  it('lists the export with a fresh link until it expires, then refuses the link after 7 days', async () => {
    const [latest] = await h.service.list(subject.userId);
    expect(latest?.status).toBe('READY');
    const url = latest?.downloadUrl ?? '';
    expect((await download(url)).status).toBe(200);

    // A tampered signature, key or expiry is refused before the file is looked at.
    const tampered = new URL(url);
    const signature = tampered.searchParams.get('signature') ?? '';
    tampered.searchParams.set('signature', `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`);
    const refused = await download(tampered.toString());
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'SIGNED_URL_INVALID' });
    const otherKey = new URL(url.replace(subject.userId, other.userId));
    expect(JSON.parse((await download(otherKey.toString())).body)).toMatchObject({
      code: 'SIGNED_URL_INVALID',
    });
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(later.searchParams.get('expires')) + DAY_MS / 1000));
    expect(JSON.parse((await download(later.toString())).body)).toMatchObject({ code: 'SIGNED_URL_INVALID' });

    // Half-way through, the list signs a link that still ends with the export.
    advance(3 * DAY_MS);
    const [halfway] = await h.service.list(subject.userId);
    const halfwayUrl = new URL(halfway?.downloadUrl ?? '');
    expect(Number(halfwayUrl.searchParams.get('expires')) * 1000).toBe(latest?.expiresAt?.getTime());

    advance(4 * DAY_MS);
    const expired = await download(url);
    expect(expired.status).toBe(403);
    expect(JSON.parse(expired.body)).toMatchObject({ code: 'SIGNED_URL_EXPIRED' });
    expect((await download(halfwayUrl.toString())).status).toBe(403);
    const [after] = await h.service.list(subject.userId);
    expect(after).toMatchObject({ id: latest?.id, status: 'EXPIRED', downloadUrl: null });
  });

  it('expireOld deletes expired documents once and marks them EXPIRED', async () => {
    const [latest] = await h.service.list(subject.userId);
    const key = dataExportKey(subject.userId, latest?.id ?? '');
    expect(await storage.get(key)).not.toBeNull();

    expect(await h.service.expireOld()).toEqual({ expired: 1 });
    expect(await storage.get(key)).toBeNull();
    expect(await db.prisma.dataExport.findUniqueOrThrow({ where: { id: latest?.id } })).toMatchObject({
      status: 'EXPIRED',
    });
    expect(await h.service.expireOld()).toEqual({ expired: 0 });
  });
});

describe('requesting exports', () => {
  it('allows one export at a time, even when requests race', async () => {
    const { userId } = await seedUser('Racer');
    const h = harness({ jobs: false });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => h.service.request(userId, client)),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results.filter((r) => r.status === 'rejected')) {
      const error = (result as PromiseRejectedResult).reason as AppError;
      expect({ code: error.code, details: error.details }).toEqual({
        code: 'CONFLICT',
        details: { reason: DataExportErrorCode.DATA_EXPORT_IN_PROGRESS },
      });
    }
    expect(await db.prisma.dataExport.count({ where: { userId, status: 'PENDING' } })).toBe(1);
  });

  it('allows one request a day; a failed export does not count', async () => {
    const { userId } = await seedUser('Daily');
    const h = harness();
    const first = await h.service.request(userId, client);
    expect((await settled(first.id)).status).toBe('READY');

    advance(20 * 60 * 60 * 1000);
    expect(await failure(h.service.request(userId, client))).toEqual({
      code: 'RATE_LIMITED',
      details: { reason: DataExportErrorCode.DATA_EXPORT_RATE_LIMITED, retryAfterSeconds: 4 * 60 * 60 },
    });

    advance(4 * 60 * 60 * 1000);
    const second = await h.service.request(userId, client);
    expect(second.id).not.toBe(first.id);
    expect((await settled(second.id)).status).toBe('READY');

    // A failed export does not count: with the second one FAILED, only the first (over 24 h ago) is left.
    await db.prisma.dataExport.update({ where: { id: second.id }, data: { status: 'FAILED' } });
    advance(60 * 1000);
    const third = await h.service.request(userId, client);
    expect((await settled(third.id)).status).toBe('READY');
  });

  it('does not let a stalled export block the user forever', async () => {
    const { userId } = await seedUser('Stalled');
    const h = harness({ jobs: false });
    const stuck = await h.service.request(userId, client);
    advance(60 * 60 * 1000);
    expect((await failure(h.service.request(userId, client))).details).toEqual({
      reason: DataExportErrorCode.DATA_EXPORT_IN_PROGRESS,
    });
    advance(5 * 60 * 60 * 1000 + 1);
    const next = await h.service.request(userId, client);
    expect(next.status).toBe('PENDING');
    expect(await db.prisma.dataExport.findUniqueOrThrow({ where: { id: stuck.id } })).toMatchObject({
      status: 'FAILED',
      error: DataExportFailure.STALLED,
    });
  });

  it('answers NOT_FOUND for an unknown or malformed user id', async () => {
    const h = harness({ jobs: false });
    for (const userId of [randomUUID(), 'not-a-uuid']) {
      expect(await failure(h.service.request(userId, client))).toEqual({
        code: 'NOT_FOUND',
        details: { reason: DataExportErrorCode.USER_NOT_FOUND },
      });
    }
    expect(await h.service.list('not-a-uuid')).toEqual([]);
  });

  it('reports SERVICE_UNAVAILABLE when the queue refuses the job, and lets the user retry at once', async () => {
    const { userId } = await seedUser('Unqueued');
    const real = harness({ jobs: false });
    const broken = createDataExportService({
      repository: createDataExportRepository(db.prisma),
      exportReader: createUserDataExportReader(db.prisma),
      jobQueue: { enqueue: () => Promise.reject(new Error('redis down')) },
      storage,
      mailer: real.mailer,
      now: () => clock.now,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    expect(await failure(broken.request(userId, client))).toEqual({
      code: 'SERVICE_UNAVAILABLE',
      details: { reason: DataExportErrorCode.DATA_EXPORT_UNAVAILABLE },
    });
    expect(
      await db.prisma.dataExport.findFirstOrThrow({ where: { userId }, orderBy: { requestedAt: 'desc' } }),
    ).toMatchObject({
      status: 'FAILED',
      error: DataExportFailure.ENQUEUE_FAILED,
    });
    expect((await real.service.request(userId, client)).status).toBe('PENDING');
  });
});

describe('running the export job', () => {
  it('records a failed step without personal data, and succeeds on the retry with one mail', async () => {
    const seeded = await seedUser('Flaky');
    let failPuts = 1;
    const flakyStorage: ObjectStorage = {
      driver: storage.driver,
      put: async (key, body, options) => {
        if (failPuts-- > 0) throw new Error(`disk full while writing ${seeded.email}`);
        return storage.put(key, body, options);
      },
      get: (key) => storage.get(key),
      delete: (key) => storage.delete(key),
      deletePrefix: (prefix) => storage.deletePrefix(prefix),
      publicUrl: (key) => storage.publicUrl(key),
      signedUrl: (key, options) => storage.signedUrl(key, options),
      ping: () => storage.ping(),
      close: () => storage.close(),
    };
    const h = harness({ jobs: false, storage: flakyStorage });
    const view = await h.service.request(seeded.userId, client);

    const thrown = await h.service.run(view.id).then(
      () => null,
      (error: unknown) => error as Error,
    );
    expect(thrown?.message).toBe(`data export ${view.id} failed: STORE_FAILED`);
    const failed = await db.prisma.dataExport.findUniqueOrThrow({ where: { id: view.id } });
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: DataExportFailure.STORE_FAILED,
      storageKey: null,
    });
    expect(JSON.stringify(failed)).not.toContain(seeded.email);

    await h.service.run(view.id);
    expect(await db.prisma.dataExport.findUniqueOrThrow({ where: { id: view.id } })).toMatchObject({
      status: 'READY',
      error: null,
    });
    // Running a READY export again (a redelivered job) changes nothing and sends no second mail.
    await h.service.run(view.id);
    expect(
      await db.prisma.emailDelivery.count({
        where: { userId: seeded.userId, template: 'data-export-ready' },
      }),
    ).toBe(1);
    await h.service.run(randomUUID());
  });

  it('mails even when the display name is blank, greeting without a name', async () => {
    const seeded = await seedUser('Blank');
    await db.prisma.userProfile.update({ where: { userId: seeded.userId }, data: { displayName: '   ' } });
    const h = harness();
    const view = await h.service.request(seeded.userId, client);
    expect((await settled(view.id)).status).toBe('READY');
    const mail = await smtp.waitForMail((m) => m.envelope.to.includes(seeded.email), { timeoutMs: 10_000 });
    expect(mail.text).toContain('\nHi,\n');
  });

  it.each(queueKinds)('runs through the %s', async (_kind, makeQueue) => {
    const seeded = await seedUser('Queued');
    const h = harness({ queue: makeQueue() });
    const view = await h.service.request(seeded.userId, client);
    // Enqueueing the same export again (a retried request) adds no second job.
    expect(await h.queue.enqueue(DATA_EXPORT_JOB, { exportId: view.id }, { jobId: view.id })).toBe(view.id);
    expect((await settled(view.id)).status).toBe('READY');
    const mail = await smtp.waitForMail((m) => m.envelope.to.includes(seeded.email), { timeoutMs: 10_000 });
    expect((await download(extractLinks(mail.text)[0] ?? '')).status).toBe(200);
    expect(
      await db.prisma.emailDelivery.count({
        where: { userId: seeded.userId, template: 'data-export-ready' },
      }),
    ).toBe(1);
  });
});
