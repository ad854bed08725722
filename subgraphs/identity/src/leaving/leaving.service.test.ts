import { randomBytes, randomUUID } from 'node:crypto';
import { createEnvelopeCipher, createPasswordHasher, hashToken } from '@gatehouse/crypto';
import { AppError } from '@gatehouse/errors';
import { MemoryEventBus } from '@gatehouse/events';
import { MemoryJobQueue } from '@gatehouse/jobs';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import {
  createMailer,
  createSmtpTransport,
  extractLinks,
  startMailWorker,
  type MailTransport,
} from '@gatehouse/mail';
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
import { createAuditLog } from '../audit';
import { CredentialErrorCode, createLoginGuard, createLoginGuardRepository } from '../credentials';
import { createAccountRepository } from '../users';
import type { ClientInfo } from '../client-info';
import {
  SessionErrorCode,
  createSessionRepository,
  createSessionService,
  type SessionService,
} from '../sessions';
import { LeavingErrorCode } from './error-codes';
import { REACTIVATION_TOKEN_HASH_PREFIX, createLeavingRepository } from './leaving.repository';
import { PURGE_AFTER_DAYS, createLeavingService, type LeavingService } from './leaving.service';

// Real PostgreSQL (a fresh schema), Redis and the in-process store, and a local SMTP server fed by the real mailer
// and mail worker: reactivation links are followed as they arrive in the mailbox.

jest.setTimeout(30_000);

const PASSWORD = 'velvet orbit cactus lantern';
const START = new Date('2031-03-01T12:00:00.000Z');
const HOUR_MS = 60 * 60 * 1000;
const client: ClientInfo = {
  ip: '203.0.113.9',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
  requestId: 'req-leaving-test',
};

const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const hasher = createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
const redisUrl = redisUrlForTests('@gatehouse/subgraph-identity leaving');
const redisPrefix = uniqueTestPrefix();
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let db: TestDatabase;
let smtp: TestSmtpServer;
let transport: MailTransport;
let jobQueue: MemoryJobQueue;
let passwordHash: string;
let mailer: ReturnType<typeof createMailer>;

beforeAll(async () => {
  [db, smtp, passwordHash] = await Promise.all([
    createTestDatabase(),
    startTestSmtpServer(),
    hasher.hash(PASSWORD),
  ]);
  jobQueue = new MemoryJobQueue({ logger: quiet });
  transport = createSmtpTransport({ url: smtp.url, from: 'Gatehouse <no-reply@gatehouse.test>' });
  mailer = createMailer({ prisma: db.prisma, jobQueue, cipher, logger: quiet });
  startMailWorker({ prisma: db.prisma, jobQueue, transport, cipher, logger: quiet });
});

afterAll(async () => {
  await jobQueue?.close();
  await transport?.close();
  await smtp?.close();
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

async function newUser(): Promise<{ id: string; email: string }> {
  const email = `leaving-${randomUUID().slice(0, 8)}@example.test`;
  const user = await db.prisma.user.create({
    data: {
      email,
      status: 'ACTIVE',
      emailVerified: true,
      passwordHash,
      profile: { create: { displayName: 'Ada' } },
    },
  });
  return { id: user.id, email };
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; reason: unknown }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return { code: error.code, reason: (error.details as { reason?: unknown } | undefined)?.reason };
}

const userRow = (id: string) => db.prisma.user.findUniqueOrThrow({ where: { id } });

async function auditTrail(userId: string) {
  const rows = await db.prisma.auditLog.findMany({
    where: { targetId: userId },
    orderBy: { createdAt: 'asc' },
    select: { action: true, actorUserId: true, ipAddress: true, metadata: true },
  });
  return rows.map((row) => ({
    action: row.action,
    actor: row.actorUserId,
    ip: row.ipAddress,
    ...(row.metadata as Record<string, unknown>),
  }));
}

/** Templates of the deliveries to `email`, oldest first. */
async function mailTemplates(email: string): Promise<string[]> {
  const rows = await db.prisma.emailDelivery.findMany({
    where: { recipient: email },
    orderBy: { createdAt: 'asc' },
    select: { template: true },
  });
  return rows.map((row) => row.template);
}

/** The token of the `nth` (1-based) reactivation mail to `email`, as the SMTP server received it. */
async function mailedReactivationToken(email: string, nth: number): Promise<string> {
  const matching = () =>
    smtp.messages.filter((m) => m.envelope.to.includes(email) && m.subject.startsWith('Reactivate your'));
  await waitFor(() => matching().length >= nth, { timeoutMs: 10_000, what: `reactivation mail ${nth}` });
  const link = extractLinks(matching()[nth - 1]!.text).find((url) => url.includes('/reactivate-account?'));
  if (!link) throw new Error('no reactivation link in the mail');
  const url = new URL(link);
  expect(url.origin + url.pathname).toBe('https://id.example.test/reactivate-account');
  return url.searchParams.get('token')!;
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

describe.each(stores)('leaving with the $name', ({ open }) => {
  interface Harness {
    leaving: LeavingService;
    sessions: SessionService;
    kv: KeyValueStore;
    clock: { now: Date };
    advance(ms: number): void;
  }
  const opened: { kv: KeyValueStore; bus: MemoryEventBus }[] = [];

  function harness(): Harness {
    const kv = open();
    const bus = new MemoryEventBus();
    opened.push({ kv, bus });
    const clock = { now: START };
    const now = () => clock.now;
    const sessions = createSessionService({
      repository: createSessionRepository(db.prisma),
      kv,
      events: bus,
      now,
    });
    const leaving = createLeavingService({
      repository: createLeavingRepository(db.prisma),
      accounts: createAccountRepository(db.prisma),
      hasher,
      guard: createLoginGuard({ kv, repository: createLoginGuardRepository(db.prisma), now }),
      sessions,
      mailer,
      audit: createAuditLog(db.prisma),
      kv,
      publicUrl: 'https://id.example.test/',
      pseudonymKey: randomBytes(32),
      logger: quiet,
      now,
    });
    return {
      leaving,
      sessions,
      kv,
      clock,
      advance: (ms) => (clock.now = new Date(clock.now.getTime() + ms)),
    };
  }

  afterAll(async () => {
    await Promise.all(opened.flatMap(({ kv, bus }) => [kv.close(), bus.close()]));
  });

  describe('deactivate', () => {
    it('refuses a wrong password: nothing changes, the failure counts toward the lockout and is audited', async () => {
      const { leaving, sessions } = harness();
      const user = await newUser();
      const session = await sessions.createSession({ userId: user.id });

      expect(await failure(leaving.deactivate(user.id, 'not the password', client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: CredentialErrorCode.INVALID_CREDENTIALS,
      });
      const row = await userRow(user.id);
      expect(row.status).toBe('ACTIVE');
      expect(row.failedLoginCount).toBe(1);
      expect(await sessions.isSessionActive(session.sessionId)).toBe(true);
      expect(await auditTrail(user.id)).toEqual([
        expect.objectContaining({
          action: 'ACCOUNT_DEACTIVATED',
          outcome: 'FAILURE',
          reason: 'WRONG_PASSWORD',
        }),
      ]);
    });

    it('locks the account after repeated wrong passwords; then even the right one is refused', async () => {
      const { leaving } = harness();
      const user = await newUser();
      for (let i = 0; i < 5; i++) await failure(leaving.deactivate(user.id, `wrong ${i}`, client));
      expect((await userRow(user.id)).lockedUntil).not.toBeNull();

      expect(await failure(leaving.deactivate(user.id, PASSWORD, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: CredentialErrorCode.INVALID_CREDENTIALS,
      });
      expect((await userRow(user.id)).status).toBe('ACTIVE');
      expect(await mailTemplates(user.email)).toEqual(['account-locked']);
    });

    it('with the password: DEACTIVATED, every session and refresh token revoked, mailed and audited', async () => {
      const { leaving, sessions } = harness();
      const user = await newUser();
      const phone = await sessions.createSession({ userId: user.id });
      const laptop = await sessions.createSession({ userId: user.id });

      await leaving.deactivate(user.id, PASSWORD, client);

      expect((await userRow(user.id)).status).toBe('DEACTIVATED');
      for (const session of [phone, laptop]) {
        expect(await sessions.isSessionActive(session.sessionId)).toBe(false);
        expect(await failure(sessions.rotateRefreshToken(session.refreshToken))).toEqual({
          code: 'UNAUTHENTICATED',
          reason: SessionErrorCode.SESSION_REVOKED,
        });
      }
      const rows = await db.prisma.session.findMany({ where: { userId: user.id } });
      expect(rows.map((row) => row.revokeReason)).toEqual(['ACCOUNT_DEACTIVATED', 'ACCOUNT_DEACTIVATED']);
      expect(await auditTrail(user.id)).toEqual([
        expect.objectContaining({
          action: 'ACCOUNT_DEACTIVATED',
          outcome: 'SUCCESS',
          actor: user.id,
          ip: client.ip,
          sessionsRevoked: 2,
        }),
      ]);
      const mail = await smtp.waitForMail(
        (m) => m.envelope.to.includes(user.email) && m.subject.includes('deactivated'),
        { timeoutMs: 10_000 },
      );
      expect(mail.subject).toBe('Your Gatehouse account is deactivated');
      expect(extractLinks(mail.text)).toEqual([
        'https://id.example.test/sign-in',
        'https://id.example.test/forgot-password',
      ]);

      expect(await failure(leaving.deactivate(user.id, PASSWORD, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.ACCOUNT_NOT_ACTIVE,
      });
    });
  });

  describe('reactivation', () => {
    async function deactivatedUser(h: Harness) {
      const user = await newUser();
      await h.leaving.deactivate(user.id, PASSWORD, client);
      const account = await createAccountRepository(db.prisma).findById(user.id);
      return { ...user, account: account! };
    }

    it('mails a single-use link (hashed at rest) that makes the account ACTIVE again', async () => {
      const h = harness();
      const user = await deactivatedUser(h);

      expect(await h.leaving.requestReactivation(user.account, client)).toEqual({ mailed: true });
      const token = await mailedReactivationToken(user.email, 1);
      const stored = await db.prisma.verificationToken.findMany({ where: { userId: user.id } });
      expect(stored).toHaveLength(1);
      expect(stored[0]!.tokenHash).toBe(REACTIVATION_TOKEN_HASH_PREFIX + hashToken(token));
      expect(stored[0]!.tokenHash).not.toContain(token);
      expect(stored[0]!.expiresAt.toISOString()).toBe('2031-03-02T12:00:00.000Z');

      expect(await h.leaving.reactivate(token, client)).toEqual({ userId: user.id });
      expect((await userRow(user.id)).status).toBe('ACTIVE');
      expect(await failure(h.leaving.reactivate(token, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.REACTIVATION_TOKEN_USED,
      });
      expect((await auditTrail(user.id)).map((entry) => entry.action)).toEqual([
        'ACCOUNT_DEACTIVATED',
        'ACCOUNT_REACTIVATION_REQUESTED',
        'ACCOUNT_REACTIVATED',
      ]);
    });

    it('two concurrent uses of one link: exactly one reactivates', async () => {
      const h = harness();
      const user = await deactivatedUser(h);
      await h.leaving.requestReactivation(user.account, client);
      const token = await mailedReactivationToken(user.email, 1);

      const outcomes = await Promise.allSettled([
        h.leaving.reactivate(token, client),
        h.leaving.reactivate(token, client),
      ]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect((rejected.reason as AppError).details).toEqual({
        reason: LeavingErrorCode.REACTIVATION_TOKEN_USED,
      });
      const reactivated = await db.prisma.auditLog.count({
        where: { targetId: user.id, action: 'ACCOUNT_REACTIVATED' },
      });
      expect(reactivated).toBe(1);
    });

    it('expires after 24 hours', async () => {
      const h = harness();
      const user = await deactivatedUser(h);
      await h.leaving.requestReactivation(user.account, client);
      const token = await mailedReactivationToken(user.email, 1);

      h.advance(24 * HOUR_MS + 1000);
      expect(await failure(h.leaving.reactivate(token, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.REACTIVATION_TOKEN_EXPIRED,
      });
      expect((await userRow(user.id)).status).toBe('DEACTIVATED');
    });

    it('throttles the mails, and only the newest link works', async () => {
      const h = harness();
      const user = await deactivatedUser(h);
      expect(await h.leaving.requestReactivation(user.account, client)).toEqual({ mailed: true });
      expect(await h.leaving.requestReactivation(user.account, client)).toEqual({ mailed: false });
      const first = await mailedReactivationToken(user.email, 1);

      // The throttle lives in the KV with a real-time TTL; forget it instead of waiting five minutes.
      await h.kv.delete(`account-reactivation-mail:${user.id}`);
      expect(await h.leaving.requestReactivation(user.account, client)).toEqual({ mailed: true });
      const second = await mailedReactivationToken(user.email, 2);
      expect(second).not.toBe(first);

      expect(await failure(h.leaving.reactivate(first, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.REACTIVATION_TOKEN_INVALID,
      });
      await h.leaving.reactivate(second, client);
      expect((await userRow(user.id)).status).toBe('ACTIVE');
    });

    it('mails nothing for an account that is not deactivated, and refuses malformed or foreign tokens', async () => {
      const h = harness();
      const user = await newUser();
      const account = (await createAccountRepository(db.prisma).findById(user.id))!;
      expect(await h.leaving.requestReactivation(account, client)).toEqual({ mailed: false });
      expect(await db.prisma.verificationToken.count({ where: { userId: user.id } })).toBe(0);

      for (const token of ['', 'short', 'x'.repeat(43), 'a/b'.padEnd(43, 'c')]) {
        expect(await failure(h.leaving.reactivate(token, client))).toEqual({
          code: 'BAD_USER_INPUT',
          reason: LeavingErrorCode.REACTIVATION_TOKEN_INVALID,
        });
      }
    });

    it('a link of an account suspended meanwhile does nothing and stays unused', async () => {
      const h = harness();
      const user = await deactivatedUser(h);
      await h.leaving.requestReactivation(user.account, client);
      const token = await mailedReactivationToken(user.email, 1);
      await db.prisma.user.update({ where: { id: user.id }, data: { status: 'SUSPENDED' } });

      expect(await failure(h.leaving.reactivate(token, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.REACTIVATION_TOKEN_INVALID,
      });
      expect((await userRow(user.id)).status).toBe('SUSPENDED');
      const stored = await db.prisma.verificationToken.findFirstOrThrow({ where: { userId: user.id } });
      expect(stored.consumedAt).toBeNull();
    });

    it('deactivating again voids the links of the earlier deactivation', async () => {
      const h = harness();
      const user = await deactivatedUser(h);
      await h.leaving.requestReactivation(user.account, client);
      const first = await mailedReactivationToken(user.email, 1);
      await db.prisma.user.update({ where: { id: user.id }, data: { status: 'ACTIVE' } });
      await h.leaving.deactivate(user.id, PASSWORD, client);

      expect(await failure(h.leaving.reactivate(first, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.REACTIVATION_TOKEN_INVALID,
      });
      expect((await userRow(user.id)).status).toBe('DEACTIVATED');
    });
  });

  describe('delete', () => {
    it('refuses a wrong password and changes nothing', async () => {
      const { leaving, sessions } = harness();
      const user = await newUser();
      const session = await sessions.createSession({ userId: user.id });
      expect(await failure(leaving.delete(user.id, 'not the password', client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: CredentialErrorCode.INVALID_CREDENTIALS,
      });
      const row = await userRow(user.id);
      expect(row).toMatchObject({ status: 'ACTIVE', deletedAt: null });
      expect(await sessions.isSessionActive(session.sessionId)).toBe(true);
    });

    it('with the password: DELETED with deleted_at, sessions revoked, sign-in lookups miss it, mailed and audited', async () => {
      const { leaving, sessions } = harness();
      const user = await newUser();
      const session = await sessions.createSession({ userId: user.id });

      const { purgeAt } = await leaving.delete(user.id, PASSWORD, client);
      expect(purgeAt.toISOString()).toBe('2031-03-31T12:00:00.000Z');
      expect(PURGE_AFTER_DAYS).toBe(30);

      const row = await userRow(user.id);
      expect(row).toMatchObject({ status: 'DELETED', deletedAt: START, email: user.email });
      expect(await sessions.isSessionActive(session.sessionId)).toBe(false);
      expect(await failure(sessions.rotateRefreshToken(session.refreshToken))).toEqual({
        code: 'UNAUTHENTICATED',
        reason: SessionErrorCode.SESSION_REVOKED,
      });
      expect((await db.prisma.session.findFirstOrThrow({ where: { userId: user.id } })).revokeReason).toBe(
        'ACCOUNT_DELETED',
      );
      const accounts = createAccountRepository(db.prisma);
      expect(await accounts.findByEmail(user.email)).toBeNull();
      expect(await accounts.findById(user.id)).toBeNull();

      expect(await auditTrail(user.id)).toEqual([
        expect.objectContaining({
          action: 'ACCOUNT_DELETED',
          outcome: 'SUCCESS',
          actor: user.id,
          sessionsRevoked: 1,
          purgeAt: '2031-03-31T12:00:00.000Z',
        }),
      ]);
      const mail = await smtp.waitForMail(
        (m) => m.envelope.to.includes(user.email) && m.subject.includes('deleted'),
        { timeoutMs: 10_000 },
      );
      expect(mail.text).toContain('erased for good on 31 Mar 2031, 12:00 UTC');

      expect(await failure(leaving.delete(user.id, PASSWORD, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.ACCOUNT_NOT_FOUND,
      });
      expect(await failure(leaving.deactivate(user.id, PASSWORD, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.ACCOUNT_NOT_FOUND,
      });
    });

    it('a deleted account cannot be reactivated with a link from before', async () => {
      const h = harness();
      const user = await newUser();
      await h.leaving.deactivate(user.id, PASSWORD, client);
      // Deleting needs a signed-in user; the account is put back to ACTIVE by hand to get there.
      await h.leaving.requestReactivation(
        { id: user.id, email: user.email, displayName: null, status: 'DEACTIVATED' },
        client,
      );
      const token = await mailedReactivationToken(user.email, 1);
      await db.prisma.user.update({ where: { id: user.id }, data: { status: 'ACTIVE' } });
      await h.leaving.delete(user.id, PASSWORD, client);

      expect(await failure(h.leaving.reactivate(token, client))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: LeavingErrorCode.REACTIVATION_TOKEN_INVALID,
      });
      expect((await userRow(user.id)).status).toBe('DELETED');
    });
  });
});

describe('createLeavingService', () => {
  it('refuses a pseudonym key shorter than 32 bytes', async () => {
    const kv = new MemoryKeyValueStore();
    expect(() =>
      createLeavingService({
        repository: createLeavingRepository(db.prisma),
        accounts: createAccountRepository(db.prisma),
        hasher,
        guard: createLoginGuard({ kv, repository: createLoginGuardRepository(db.prisma) }),
        sessions: { revokeAllSessions: async () => 0 },
        mailer,
        audit: createAuditLog(db.prisma),
        kv,
        publicUrl: 'https://id.example.test',
        pseudonymKey: randomBytes(16),
      }),
    ).toThrow(RangeError);
    await kv.close();
  });
});
