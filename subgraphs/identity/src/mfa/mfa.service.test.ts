import { randomBytes, randomUUID } from 'node:crypto';
import { createEnvelopeCipher, createPasswordHasher, generateToken, hashToken } from '@gatehouse/crypto';
import { AppError, ErrorCode } from '@gatehouse/errors';
import { MemoryEventBus } from '@gatehouse/events';
import { MemoryJobQueue } from '@gatehouse/jobs';
import { createKeyValueStore, MemoryKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createMailer, createSmtpTransport, startMailWorker, type MailTransport } from '@gatehouse/mail';
import {
  createTestDatabase,
  deleteRedisKeys,
  parseOtpauthUri,
  redisUrlForTests,
  startFakeTwilio,
  startTestSmtpServer,
  totp,
  uniqueTestPrefix,
  waitFor,
  type FakeTwilioServer,
  type TestDatabase,
  type TestSmtpServer,
} from '@gatehouse/testing';
import { createAuditLog } from '../audit';
import { createLoginGuard, createLoginGuardRepository, type LoginGuard } from '../credentials';
import { createAccountRepository } from '../users';
import type { ClientInfo } from '../client-info';
import { createSessionRepository, createSessionService, type SessionService } from '../sessions';
import { readQrCode } from './qr-reader.test-support';
import { hashBackupCode, normalizeBackupCode } from './backup-codes';
import { MfaErrorCode } from './error-codes';
import { createMfaRepository } from './mfa.repository';
import { MfaEventTopic, type MfaSecurityEvent } from './mfa.constants';
import { createMfaService, type MfaServiceOptions } from './mfa.service';
import { createTwilioSmsSender, type SmsSender } from './sms-sender';
import { generateTotpSecret } from './totp';

// Real PostgreSQL (a fresh schema), Redis (and the in-process store), a local SMTP server fed by the real mailer
// and worker, and a local Twilio-compatible API. TOTP codes come from @gatehouse/testing's RFC 6238
// implementation (checked against the RFC's vectors), never from the library under test.

jest.setTimeout(30_000);

const PASSWORD = 'velvet orbit cactus lantern';
const ISSUER = 'Gatehouse Test';
const START = new Date('2031-03-01T12:00:10.000Z');
const client: ClientInfo = {
  ip: '203.0.113.9',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
  requestId: 'req-mfa-test',
};

const cipher = createEnvelopeCipher([{ id: 'test', key: randomBytes(32) }]);
const hasher = createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
const redisUrl = redisUrlForTests('@gatehouse/subgraph-identity mfa');
const redisPrefix = uniqueTestPrefix();

let db: TestDatabase;
let smtp: TestSmtpServer;
let twilio: FakeTwilioServer;
let transport: MailTransport;
let jobQueue: MemoryJobQueue;
let passwordHash: string;
let mailer: ReturnType<typeof createMailer>;

beforeAll(async () => {
  [db, smtp, twilio, passwordHash] = await Promise.all([
    createTestDatabase(),
    startTestSmtpServer(),
    startFakeTwilio(),
    hasher.hash(PASSWORD),
  ]);
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  jobQueue = new MemoryJobQueue({ logger: quiet });
  transport = createSmtpTransport({ url: smtp.url, from: 'Gatehouse <no-reply@gatehouse.test>' });
  mailer = createMailer({ prisma: db.prisma, jobQueue, cipher, logger: quiet });
  startMailWorker({ prisma: db.prisma, jobQueue, transport, cipher, logger: quiet });
});

afterAll(async () => {
  await jobQueue?.close();
  await transport?.close();
  await Promise.all([smtp?.close(), twilio?.close()]);
  await db?.close();
  if (redisUrl) await deleteRedisKeys(redisUrl, redisPrefix);
});

afterEach(() => twilio.fail(null));

// ---- helpers ---------------------------------------------------------------------------------------------

interface TestUser {
  id: string;
  email: string;
  /** A phone number no other test uses. */
  phone: string;
}

let phoneCounter = 0;
async function newUser(options: { password?: boolean } = {}): Promise<TestUser> {
  const email = `mfa-${randomUUID().slice(0, 8)}@example.test`;
  const user = await db.prisma.user.create({
    data: {
      email,
      status: 'ACTIVE',
      emailVerified: true,
      passwordHash: options.password === false ? null : passwordHash,
      profile: { create: { displayName: 'Ada' } },
    },
  });
  phoneCounter += 1;
  return { id: user.id, email, phone: `+1555${String(1_000_000 + phoneCounter).slice(1)}${randomDigit()}` };
}
const randomDigit = () => String(randomBytes(1)[0]! % 10);

async function failure(
  promise: Promise<unknown>,
): Promise<{ code: string; reason: unknown; details: Record<string, unknown> }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  const details = (error.details ?? {}) as Record<string, unknown>;
  return { code: error.code, reason: details.reason, details };
}

const codeAt = (secret: string, at: Date) => totp(secret, { time: at.getTime() / 1000 });

/** `count` distinct six-digit codes the app's secret does not accept at `at` (nor a step either side). */
function wrongCodes(secret: string, at: Date, count: number): string[] {
  const valid = new Set([-30_000, 0, 30_000].map((ms) => codeAt(secret, new Date(at.getTime() + ms))));
  const codes: string[] = [];
  for (let n = 100_000; codes.length < count; n += 7_919) {
    const code = String(n % 1_000_000).padStart(6, '0');
    if (!valid.has(code)) codes.push(code);
  }
  return codes;
}

async function userRow(id: string) {
  return db.prisma.user.findUniqueOrThrow({ where: { id } });
}

async function mailTemplates(email: string): Promise<string[]> {
  const rows = await db.prisma.emailDelivery.findMany({
    where: { recipient: email },
    orderBy: { createdAt: 'asc' },
    select: { template: true },
  });
  return rows.map((row) => row.template);
}

async function auditTrail(userId: string) {
  const rows = await db.prisma.auditLog.findMany({
    where: { targetId: userId },
    orderBy: { createdAt: 'asc' },
    select: { action: true, metadata: true },
  });
  return rows.map((row) => ({ action: row.action, ...(row.metadata as Record<string, unknown>) }));
}

/** The code of the latest SMS to `to`. */
function textedCode(to: string): string {
  const body = twilio.messagesTo(to).at(-1)?.body ?? '';
  const match = /^(\d{6}) is your Gatehouse Test verification code\./.exec(body);
  if (!match) throw new Error(`no code texted to ${to}: ${JSON.stringify(body)}`);
  return match[1]!;
}

/** The code of the `nth` (1-based) verification-code mail to `email`, as the SMTP server received it. */
async function mailedCode(email: string, nth: number): Promise<string> {
  await waitFor(
    () =>
      smtp.messages.filter((m) => m.envelope.to.includes(email) && m.subject.includes('verification code'))
        .length >= nth,
    { timeoutMs: 10_000, what: `verification mail ${nth} to ${email}` },
  );
  const mail = smtp.messages.filter(
    (m) => m.envelope.to.includes(email) && m.subject.includes('verification code'),
  )[nth - 1]!;
  const match = /\n\n(\d{6})\n\n/.exec(mail.text);
  if (!match) throw new Error('no code in the mail');
  return match[1]!;
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

describe.each(stores)('MFA service with the $name', ({ open }) => {
  interface Harness {
    service: ReturnType<typeof createMfaService>;
    kv: KeyValueStore;
    sessions: SessionService;
    clock: { now: Date };
    advance(ms: number): void;
    events: { topic: string; payload: MfaSecurityEvent }[];
    guard: LoginGuard;
  }
  const opened: { kv: KeyValueStore; bus: MemoryEventBus }[] = [];

  async function harness(
    options: Partial<MfaServiceOptions> = {},
    lockout: { maxFailures?: number } = {},
  ): Promise<Harness> {
    const kv = open();
    const bus = new MemoryEventBus();
    opened.push({ kv, bus });
    const clock = { now: START };
    const now = () => clock.now;
    const events: Harness['events'] = [];
    for (const topic of Object.values(MfaEventTopic)) {
      await bus.subscribe<MfaSecurityEvent>(topic, (payload) => void events.push({ topic, payload }));
    }
    const sessions = createSessionService({
      repository: createSessionRepository(db.prisma),
      kv,
      events: bus,
      now,
    });
    const guard = createLoginGuard({
      kv,
      repository: createLoginGuardRepository(db.prisma),
      now,
      ...lockout,
    });
    const service = createMfaService({
      repository: createMfaRepository(db.prisma),
      kv,
      events: bus,
      mailer,
      cipher,
      accounts: createAccountRepository(db.prisma),
      hasher,
      guard,
      audit: createAuditLog(db.prisma),
      sessions,
      sms: createTwilioSmsSender({
        accountSid: twilio.accountSid,
        authToken: twilio.authToken,
        from: '+15005550006',
        baseUrl: twilio.baseUrl,
        timeoutMs: 1000,
      }),
      issuer: ISSUER,
      publicUrl: 'https://id.example.test/',
      now,
      ...options,
    });
    return {
      service,
      kv,
      sessions,
      clock,
      advance: (ms) => (clock.now = new Date(clock.now.getTime() + ms)),
      events,
      guard,
    };
  }

  afterAll(async () => {
    await Promise.all(opened.flatMap(({ kv, bus }) => [kv.close(), bus.close()]));
  });

  /** A pending (unconfirmed) authenticator app, stored as `enrollTotp` stores it; returns its secret. */
  async function storePendingTotp(user: TestUser): Promise<string> {
    const secret = generateTotpSecret();
    const id = randomUUID();
    await createMfaRepository(db.prisma).replacePendingFactor({
      id,
      userId: user.id,
      type: 'TOTP',
      secretEncrypted: cipher.encrypt(secret, `mfa-factor:${id}`),
    });
    return secret;
  }

  /**
   * Stores a pending authenticator app as `enrollTotp` does (without rendering its QR code, which the enrollment
   * tests cover: pngjs is ~30x slower under Jest than in Node), then confirms it through the service.
   */
  async function enableTotp(h: Harness, user: TestUser) {
    const secret = await storePendingTotp(user);
    const { backupCodes } = await h.service.confirmTotp(user.id, codeAt(secret, h.clock.now), client);
    return { secret, backupCodes: backupCodes! };
  }

  /** Enrolls and confirms the user's phone (one of the three sends of the window). */
  async function enableSms(h: Harness, user: TestUser) {
    await h.service.enrollSms(user.id, user.phone, client);
    const { backupCodes } = await h.service.confirmSms(user.id, textedCode(user.phone), client);
    return { backupCodes: backupCodes! };
  }

  describe('authenticator app enrollment', () => {
    it('stores the secret encrypted and inactive, then a code from the app turns MFA on with 10 backup codes', async () => {
      const h = await harness();
      const user = await newUser();
      const enrolled = await h.service.enrollTotp(user.id);

      expect(enrolled.secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(parseOtpauthUri(enrolled.otpauthUri)).toMatchObject({
        labelIssuer: ISSUER,
        account: user.email,
        issuer: ISSUER,
        secret: enrolled.secret,
        algorithm: 'SHA1',
        digits: 6,
        period: 30,
      });
      // What a phone's camera sees: the PNG decodes to exactly this URI.
      expect(readQrCode(enrolled.qrCodeDataUrl).text).toBe(enrolled.otpauthUri);

      const { rows } = await db.pool.query<{
        id: string;
        secret_encrypted: string;
        verified_at: Date | null;
      }>('SELECT id, secret_encrypted, verified_at FROM mfa_factors WHERE user_id = $1', [user.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.verified_at).toBeNull();
      expect(rows[0]!.secret_encrypted).not.toContain(enrolled.secret);
      expect(cipher.decrypt(rows[0]!.secret_encrypted, `mfa-factor:${rows[0]!.id}`).toString()).toBe(
        enrolled.secret,
      );
      expect(await h.service.isRequired(user.id)).toBe(false);

      const { backupCodes } = await h.service.confirmTotp(user.id, codeAt(enrolled.secret, START), client);
      expect(backupCodes).toHaveLength(10);
      for (const code of backupCodes!) expect(code).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
      expect(new Set(backupCodes).size).toBe(10);

      expect(await userRow(user.id)).toMatchObject({ mfaEnabled: true, mfaEnabledAt: START });
      expect(await h.service.isRequired(user.id)).toBe(true);
      expect(await h.service.status(user.id)).toEqual({
        enabled: true,
        factors: [
          {
            id: rows[0]!.id,
            type: 'TOTP',
            label: null,
            destination: null,
            verifiedAt: START,
            lastUsedAt: START,
          },
        ],
        backupCodesRemaining: 10,
      });

      // Backup codes are stored hashed only.
      const stored = await db.prisma.backupCode.findMany({ where: { userId: user.id } });
      expect(stored.map((row) => row.codeHash).sort()).toEqual(
        backupCodes!.map((code) => hashBackupCode(user.id, normalizeBackupCode(code)!)).sort(),
      );
      expect(JSON.stringify(stored)).not.toMatch(
        new RegExp(backupCodes!.map((c) => c.slice(0, 5)).join('|')),
      );

      expect((await auditTrail(user.id)).map((entry) => entry.action)).toEqual([
        'MFA_FACTOR_ENROLLED',
        'MFA_ENABLED',
      ]);
      await waitFor(() => h.events.length >= 2, { what: 'MFA events' });
      expect(h.events.map(({ topic, payload }) => [topic, payload.userId, payload.method])).toEqual([
        ['security.mfa_factor_enrolled', user.id, 'TOTP'],
        ['security.mfa_enabled', user.id, 'TOTP'],
      ]);
      const mail = await smtp.waitForMail((m) => m.envelope.to.includes(user.email), { timeoutMs: 10_000 });
      expect(mail.subject).toBe('Two-step verification is on for your Gatehouse account');
      expect(mail.text).toContain('a second step with an authenticator app');
      expect(mail.text).toContain('Device: Firefox 120 on Linux');
      expect(mail.text).toContain('https://id.example.test/account/security');
    });

    it('re-enrolling replaces an unconfirmed secret; a confirmed app cannot be enrolled twice', async () => {
      const h = await harness();
      const user = await newUser();
      const first = await h.service.enrollTotp(user.id);
      const second = await h.service.enrollTotp(user.id);
      expect(second.secret).not.toBe(first.secret);
      expect(await db.prisma.mfaFactor.count({ where: { userId: user.id } })).toBe(1);

      expect(
        await failure(h.service.confirmTotp(user.id, codeAt(first.secret, START), client)),
      ).toMatchObject({
        code: ErrorCode.BAD_USER_INPUT,
        reason: MfaErrorCode.MFA_CODE_INVALID,
      });
      await h.service.confirmTotp(user.id, codeAt(second.secret, START), client);
      expect(await failure(h.service.enrollTotp(user.id))).toEqual({
        code: ErrorCode.CONFLICT,
        reason: MfaErrorCode.MFA_ALREADY_ENROLLED,
        details: { reason: MfaErrorCode.MFA_ALREADY_ENROLLED },
      });
    });

    it('refuses wrong and malformed codes, and after 5 wrong ones even the right code', async () => {
      const h = await harness();
      const user = await newUser();
      expect((await failure(h.service.confirmTotp(user.id, '123456', client))).reason).toBe(
        MfaErrorCode.MFA_ENROLLMENT_NOT_FOUND,
      );
      const secret = await storePendingTotp(user);
      const right = codeAt(secret, START);
      const twoStepsAgo = codeAt(secret, new Date(START.getTime() - 60_000));
      // Input that cannot be a code is refused without counting as a guess...
      for (const malformed of ['12345', 'abcdef', '1234567', 'ab3cd-9xyz0']) {
        expect((await failure(h.service.confirmTotp(user.id, malformed, client))).reason).toBe(
          MfaErrorCode.MFA_CODE_INVALID,
        );
      }
      // ...five wrong ones are counted.
      const others = ['000000', '111111', '222222', '333333', '444444', '555555'];
      const wrong = [twoStepsAgo, ...others.filter((c) => c !== right && c !== twoStepsAgo).slice(0, 4)];
      for (const code of wrong) {
        expect(await failure(h.service.confirmTotp(user.id, code, client))).toMatchObject({
          code: ErrorCode.BAD_USER_INPUT,
          reason: MfaErrorCode.MFA_CODE_INVALID,
        });
      }
      const limited = await failure(h.service.confirmTotp(user.id, right, client));
      expect(limited).toMatchObject({
        code: ErrorCode.RATE_LIMITED,
        reason: MfaErrorCode.MFA_TOO_MANY_ATTEMPTS,
      });
      expect(limited.details.retryAfterSeconds).toBeGreaterThan(0);
      expect(limited.details.retryAfterSeconds).toBeLessThanOrEqual(900);
      expect((await userRow(user.id)).mfaEnabled).toBe(false);
    });

    // Issue #14: the limit was read before the code was checked and counted after, so parallel requests all saw
    // room and all got checked.
    it('counts each code before checking it: 12 parallel wrong codes get 5 checked, 7 refused unchecked', async () => {
      const h = await harness();
      const user = await newUser();
      const secret = await storePendingTotp(user);
      const results = await Promise.all(
        wrongCodes(secret, START, 12).map((code) => failure(h.service.confirmTotp(user.id, code, client))),
      );
      const checked = results.filter((r) => r.reason === MfaErrorCode.MFA_CODE_INVALID).length;
      const refused = results.filter((r) => r.reason === MfaErrorCode.MFA_TOO_MANY_ATTEMPTS).length;
      expect({ checked, refused }).toEqual({ checked: 5, refused: 7 });
      // A right code is refused too until the window ends.
      expect((await failure(h.service.confirmTotp(user.id, codeAt(secret, START), client))).reason).toBe(
        MfaErrorCode.MFA_TOO_MANY_ATTEMPTS,
      );
    });
  });

  describe('sign-in challenge', () => {
    it('offers the enrolled methods, passes with an app code, and works once', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      await expect(h.service.createChallenge(randomUUID(), {})).rejects.toMatchObject({
        details: { reason: MfaErrorCode.MFA_NOT_ENABLED },
      });

      const challenge = await h.service.createChallenge(user.id, { via: 'password', provider: null });
      expect(challenge).toEqual({
        mfaToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        methods: ['TOTP', 'BACKUP_CODE'],
        expiresAt: new Date(START.getTime() + 300_000),
      });
      // Only the token's hash is a key; the value knows nothing of the token.
      const stored = await h.kv.get(`mfa:challenge:${hashToken(challenge.mfaToken)}`);
      expect(stored).not.toBeNull();
      expect(stored).not.toContain(challenge.mfaToken);

      h.advance(30_000); // the confirmation used the current step: the next one is a fresh code
      const passed = await h.service.verifyChallenge(challenge.mfaToken, codeAt(secret, h.clock.now), client);
      expect(passed).toEqual({
        userId: user.id,
        method: 'TOTP',
        context: { via: 'password', provider: null },
        backupCodesRemaining: null,
      });
      expect(
        await failure(h.service.verifyChallenge(challenge.mfaToken, codeAt(secret, h.clock.now), client)),
      ).toMatchObject({ code: ErrorCode.UNAUTHENTICATED, reason: MfaErrorCode.MFA_CHALLENGE_INVALID });
      expect((await auditTrail(user.id)).map((entry) => entry.action)).toContain('MFA_CHALLENGE_PASSED');
    });

    it('refuses a replayed app code, accepts the neighbouring steps and refuses two steps away', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      h.advance(10 * 60_000);
      const step = (offset: number) => codeAt(secret, new Date(h.clock.now.getTime() + offset * 30_000));
      const verify = async (code: string, mfaToken?: string) =>
        h.service.verifyChallenge(
          mfaToken ?? (await h.service.createChallenge(user.id, {})).mfaToken,
          code,
          client,
        );

      expect((await verify(step(-1))).method).toBe('TOTP');
      const { mfaToken } = await h.service.createChallenge(user.id, {});
      expect(await failure(verify(step(-1), mfaToken))).toMatchObject({
        reason: MfaErrorCode.MFA_CODE_REUSED,
        details: { attemptsRemaining: 4 },
      });
      const current = [step(-1), step(0), step(1)];
      for (const far of [step(-2), step(2)].filter((code) => !current.includes(code))) {
        expect((await failure(verify(far, mfaToken))).reason).toBe(MfaErrorCode.MFA_CODE_INVALID);
      }
      expect((await verify(step(1))).method).toBe('TOTP');
      // The current step is older than the last one used: a replay too.
      expect((await failure(verify(step(0)))).reason).toBe(MfaErrorCode.MFA_CODE_REUSED);
    });

    it('lets only one of two concurrent submissions of a code through', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      h.advance(30_000);
      const code = codeAt(secret, h.clock.now);
      const { mfaToken } = await h.service.createChallenge(user.id, {});
      const other = await h.service.createChallenge(user.id, {});
      const results = await Promise.allSettled([
        h.service.verifyChallenge(mfaToken, code, client),
        h.service.verifyChallenge(mfaToken, code, client),
        h.service.verifyChallenge(other.mfaToken, code, client),
      ]);
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    });

    it('expires after 5 minutes of the service clock', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      const { mfaToken } = await h.service.createChallenge(user.id, {});
      h.advance(300_000);
      expect(
        (await failure(h.service.verifyChallenge(mfaToken, codeAt(secret, h.clock.now), client))).reason,
      ).toBe(MfaErrorCode.MFA_CHALLENGE_INVALID);
      expect((await failure(h.service.sendChallengeCode(mfaToken, 'EMAIL', client))).reason).toBe(
        MfaErrorCode.MFA_CHALLENGE_INVALID,
      );
      for (const token of ['not-a-token', generateToken(32)]) {
        expect((await failure(h.service.verifyChallenge(token, '123456', client))).reason).toBe(
          MfaErrorCode.MFA_CHALLENGE_INVALID,
        );
      }
    });

    it('5 wrong codes destroy the challenge and lock the account on a count of their own, which is mailed', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      h.advance(30_000);
      const right = codeAt(secret, h.clock.now);
      const wrong = right === '999999' ? '999998' : '999999';
      const { mfaToken } = await h.service.createChallenge(user.id, { via: 'password' });

      for (const remaining of [4, 3, 2, 1]) {
        expect(await failure(h.service.verifyChallenge(mfaToken, wrong, client))).toMatchObject({
          code: ErrorCode.UNAUTHENTICATED,
          reason: MfaErrorCode.MFA_CODE_INVALID,
          details: { attemptsRemaining: remaining },
        });
        // Issue #14: counted apart from the password's failures, in PostgreSQL.
        expect(await userRow(user.id)).toMatchObject({ mfaFailedCount: 5 - remaining, failedLoginCount: 0 });
      }
      expect((await failure(h.service.verifyChallenge(mfaToken, wrong, client))).reason).toBe(
        MfaErrorCode.MFA_CHALLENGE_INVALID,
      );
      expect((await failure(h.service.verifyChallenge(mfaToken, right, client))).reason).toBe(
        MfaErrorCode.MFA_CHALLENGE_INVALID,
      );

      expect((await userRow(user.id)).lockedUntil).toEqual(new Date(h.clock.now.getTime() + 900_000));
      expect(await mailTemplates(user.email)).toContain('account-locked');
      const trail = await auditTrail(user.id);
      expect(trail.filter((entry) => entry.action === 'MFA_CHALLENGE_FAILED')).toHaveLength(5);
      expect(trail.at(-1)).toMatchObject({ action: 'ACCOUNT_LOCKED', failures: 5, cause: 'WRONG_MFA_CODE' });
      // The lock clears the count: after it, a fresh start.
      expect((await userRow(user.id)).mfaFailedCount).toBe(0);
      await waitFor(
        () => h.events.filter((e) => e.topic === MfaEventTopic.MFA_CHALLENGE_FAILED).length === 5,
      );
      expect(h.events.at(-1)?.payload).toMatchObject({
        userId: user.id,
        reason: 'MFA_CODE_INVALID',
        failures: 5,
      });

      // While locked even the right code is refused (like sign-in, without telling the lock apart), and the
      // challenge is gone for good.
      const next = await h.service.createChallenge(user.id, {});
      expect(await failure(h.service.verifyChallenge(next.mfaToken, right, client))).toMatchObject({
        code: ErrorCode.UNAUTHENTICATED,
        reason: MfaErrorCode.MFA_CHALLENGE_INVALID,
      });
      expect((await auditTrail(user.id)).at(-1)).toMatchObject({
        action: 'MFA_CHALLENGE_FAILED',
        reason: 'ACCOUNT_LOCKED',
      });
      h.advance(16 * 60_000);
      expect((await failure(h.service.verifyChallenge(next.mfaToken, right, client))).reason).toBe(
        MfaErrorCode.MFA_CHALLENGE_INVALID,
      );
    });

    it('a passed challenge clears the failed attempts before it', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      h.advance(30_000);
      const { mfaToken } = await h.service.createChallenge(user.id, {});
      // Not a code at all: refused, not counted.
      expect(await failure(h.service.verifyChallenge(mfaToken, '<script>', client))).toMatchObject({
        code: ErrorCode.BAD_USER_INPUT,
        reason: MfaErrorCode.MFA_CODE_INVALID,
      });
      expect((await userRow(user.id)).mfaFailedCount).toBe(0);
      const wrongDigits = codeAt(secret, h.clock.now) === '000000' ? '000001' : '000000';
      await failure(h.service.verifyChallenge(mfaToken, wrongDigits, client));
      await failure(h.service.verifyChallenge(mfaToken, 'zzzzz-zzzzz', client));
      expect((await userRow(user.id)).mfaFailedCount).toBe(2);
      await h.service.verifyChallenge(mfaToken, codeAt(secret, h.clock.now), client);
      expect((await userRow(user.id)).mfaFailedCount).toBe(0);
    });
    // Issue #14: a correct password used to clear the count that wrong codes fed, so "4 wrong codes, sign in
    // again, 4 more" never locked; and codes were counted after they were checked, so parallel requests got more
    // guesses than the limit.
    it('a correct password in between clears nothing: the 5th wrong code across challenges locks', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      h.advance(30_000);
      const wrong = codeAt(secret, h.clock.now) === '999999' ? '999998' : '999999';
      const first = await h.service.createChallenge(user.id, { via: 'password' });
      for (let i = 0; i < 4; i++) await failure(h.service.verifyChallenge(first.mfaToken, wrong, client));
      await h.guard.recordSuccess(user.id); // what a correct password does before the next challenge
      const second = await h.service.createChallenge(user.id, { via: 'password' });
      expect(await failure(h.service.verifyChallenge(second.mfaToken, wrong, client))).toMatchObject({
        reason: MfaErrorCode.MFA_CHALLENGE_INVALID,
      });
      expect((await userRow(user.id)).lockedUntil).toEqual(new Date(h.clock.now.getTime() + 900_000));
      expect(await mailTemplates(user.email)).toContain('account-locked');
    });

    /** Fires `count` wrong codes at once at each challenge; sorts the audit trail into checked and refused. */
    async function parallelWrongCodes(
      h: Harness,
      user: TestUser,
      secret: string,
      mfaTokens: string[],
      count: number,
    ) {
      const wrong = wrongCodes(secret, h.clock.now, count);
      const results = await Promise.allSettled(
        mfaTokens.flatMap((mfaToken) =>
          wrong.map((code) => h.service.verifyChallenge(mfaToken, code, client)),
        ),
      );
      expect(results.every((result) => result.status === 'rejected')).toBe(true);
      const failed: Record<string, unknown>[] = (await auditTrail(user.id)).filter(
        (entry) => entry.action === 'MFA_CHALLENGE_FAILED',
      );
      return {
        /** Codes that were compared (and were wrong). */
        checked: failed.filter((entry) => entry.reason === MfaErrorCode.MFA_CODE_INVALID).length,
        /** Refused before their code was looked at. */
        refused: failed.filter((entry) => entry.reason !== MfaErrorCode.MFA_CODE_INVALID).length,
      };
    }

    it('counts each code before checking it: 12 parallel wrong codes for one challenge get 5 checked', async () => {
      // An account limit out of reach, so the challenge's own limit is the one seen.
      const h = await harness({}, { maxFailures: 100 });
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      h.advance(30_000);
      const { mfaToken } = await h.service.createChallenge(user.id, {});
      expect(await parallelWrongCodes(h, user, secret, [mfaToken], 12)).toEqual({ checked: 5, refused: 7 });
      expect((await userRow(user.id)).mfaFailedCount).toBe(5);
    });

    it('counts each code before checking it: parallel wrong codes over 3 challenges get the account limit checked, one lock', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      h.advance(30_000);
      const tokens: string[] = [];
      for (let i = 0; i < 3; i++) tokens.push((await h.service.createChallenge(user.id, {})).mfaToken);
      expect(await parallelWrongCodes(h, user, secret, tokens, 4)).toEqual({ checked: 5, refused: 7 });
      expect((await userRow(user.id)).lockedUntil).toEqual(new Date(h.clock.now.getTime() + 900_000));
      const trail = await auditTrail(user.id);
      expect(trail.filter((entry) => entry.action === 'ACCOUNT_LOCKED')).toHaveLength(1);
      await waitFor(async () => (await mailTemplates(user.email)).includes('account-locked'));
      expect((await mailTemplates(user.email)).filter((t) => t === 'account-locked')).toHaveLength(1);
    });
  });

  describe('SMS codes', () => {
    it('enroll a phone number with a texted code that works once', async () => {
      const h = await harness();
      const user = await newUser();
      const spaced = `${user.phone.slice(0, 2)} ${user.phone.slice(2, 5)} ${user.phone.slice(5)}`;
      const sent = await h.service.enrollSms(user.id, spaced, client);
      expect(sent).toEqual({
        destination: `+*******${user.phone.slice(-4)}`,
        expiresAt: new Date(START.getTime() + 300_000),
      });
      expect(twilio.messagesTo(user.phone)).toHaveLength(1);
      expect(twilio.messagesTo(user.phone)[0]).toMatchObject({ from: '+15005550006' });
      const code = textedCode(user.phone);
      // The key/value store keeps only a hash of the code.
      const kept = await h.kv.get(`mfa:code:enroll-sms:${user.id}`);
      expect(kept).not.toBeNull();
      expect(kept).not.toContain(code);

      const wrong = code === '000000' ? '000001' : '000000';
      expect((await failure(h.service.confirmSms(user.id, wrong, client))).reason).toBe(
        MfaErrorCode.MFA_CODE_INVALID,
      );
      const { backupCodes } = await h.service.confirmSms(user.id, code, client);
      expect(backupCodes).toHaveLength(10);
      expect((await failure(h.service.confirmSms(user.id, code, client))).reason).toBe(
        MfaErrorCode.MFA_ENROLLMENT_NOT_FOUND,
      );
      expect((await h.service.status(user.id)).factors).toEqual([
        expect.objectContaining({ type: 'SMS', destination: `+*******${user.phone.slice(-4)}` }),
      ]);
      expect((await failure(h.service.enrollSms(user.id, user.phone, client))).reason).toBe(
        MfaErrorCode.MFA_ALREADY_ENROLLED,
      );
      const sentAudit = (await auditTrail(user.id)).find((entry) => entry.action === 'MFA_CODE_SENT');
      expect(sentAudit).toEqual({
        action: 'MFA_CODE_SENT',
        outcome: 'SUCCESS',
        method: 'SMS',
        purpose: 'enroll-sms',
        destination: `+*******${user.phone.slice(-4)}`,
      });
      expect(await mailTemplates(user.email)).toEqual(['mfa-enabled']);
    });

    it('pass a challenge with a code bound to it, usable once', async () => {
      const h = await harness();
      const user = await newUser();
      await enableSms(h, user);
      const first = await h.service.createChallenge(user.id, {});
      expect(first.methods).toEqual(['SMS', 'BACKUP_CODE']);
      const other = await h.service.createChallenge(user.id, {});
      const sent = await h.service.sendChallengeCode(first.mfaToken, 'SMS', client);
      expect(sent.destination).toBe(`+*******${user.phone.slice(-4)}`);
      const code = textedCode(user.phone);

      expect(await failure(h.service.verifyChallenge(other.mfaToken, code, client))).toMatchObject({
        reason: MfaErrorCode.MFA_CODE_INVALID,
      });
      expect(await h.service.verifyChallenge(first.mfaToken, code, client)).toMatchObject({
        userId: user.id,
        method: 'SMS',
      });
      expect((await failure(h.service.verifyChallenge(other.mfaToken, code, client))).reason).toBe(
        MfaErrorCode.MFA_CODE_INVALID,
      );
      expect((await h.service.status(user.id)).factors[0]?.lastUsedAt).toEqual(START);
      expect((await failure(h.service.sendChallengeCode(first.mfaToken, 'SMS', client))).reason).toBe(
        MfaErrorCode.MFA_CHALLENGE_INVALID,
      );
      expect((await failure(h.service.sendChallengeCode(other.mfaToken, 'EMAIL', client))).reason).toBe(
        MfaErrorCode.MFA_METHOD_UNAVAILABLE,
      );
    });

    it('a new code replaces the previous one', async () => {
      const h = await harness();
      const user = await newUser();
      await enableSms(h, user);
      const { mfaToken } = await h.service.createChallenge(user.id, {});
      await h.service.sendChallengeCode(mfaToken, 'SMS', client);
      const replaced = textedCode(user.phone);
      await h.service.sendChallengeCode(mfaToken, 'SMS', client);
      const current = textedCode(user.phone);
      if (replaced !== current) {
        expect((await failure(h.service.verifyChallenge(mfaToken, replaced, client))).reason).toBe(
          MfaErrorCode.MFA_CODE_INVALID,
        );
      }
      expect((await h.service.verifyChallenge(mfaToken, current, client)).method).toBe('SMS');
    });

    it('go out at most 3 times per 5 minutes', async () => {
      const h = await harness();
      const user = await newUser();
      await enableSms(h, user);
      const { mfaToken } = await h.service.createChallenge(user.id, {});
      await h.service.sendChallengeCode(mfaToken, 'SMS', client);
      await h.service.sendChallengeCode(mfaToken, 'SMS', client);
      const limited = await failure(h.service.sendChallengeCode(mfaToken, 'SMS', client));
      expect(limited).toMatchObject({
        code: ErrorCode.RATE_LIMITED,
        reason: MfaErrorCode.MFA_CODE_SEND_LIMIT,
      });
      expect(limited.details.retryAfterSeconds).toBeGreaterThan(0);
      expect(limited.details.retryAfterSeconds).toBeLessThanOrEqual(300);
      expect(twilio.messagesTo(user.phone)).toHaveLength(3);
    });

    it('fail as SMS_UNAVAILABLE while the provider is down, without using up the sends', async () => {
      const h = await harness();
      const user = await newUser();
      await enableSms(h, user);
      const { mfaToken } = await h.service.createChallenge(user.id, {});
      twilio.fail({ status: 500 });
      for (let i = 0; i < 3; i++) {
        expect(await failure(h.service.sendChallengeCode(mfaToken, 'SMS', client))).toMatchObject({
          code: ErrorCode.SERVICE_UNAVAILABLE,
          reason: MfaErrorCode.SMS_UNAVAILABLE,
        });
      }
      expect(await h.kv.get(`mfa:code:challenge:${user.id}`)).toBeNull();
      twilio.fail(null);
      await h.service.sendChallengeCode(mfaToken, 'SMS', client);
      await h.service.sendChallengeCode(mfaToken, 'SMS', client);
      expect((await h.service.verifyChallenge(mfaToken, textedCode(user.phone), client)).method).toBe('SMS');
    });

    it('are not offered without a provider; backup codes still are', async () => {
      const withSms = await harness();
      const user = await newUser();
      const { backupCodes } = await enableSms(withSms, user);
      const h = await harness({ sms: null });
      expect((await failure(h.service.enrollSms(user.id, '+15558670000', client))).reason).toBe(
        MfaErrorCode.MFA_METHOD_UNAVAILABLE,
      );
      const { mfaToken, methods } = await h.service.createChallenge(user.id, {});
      expect(methods).toEqual(['BACKUP_CODE']);
      expect((await failure(h.service.sendChallengeCode(mfaToken, 'SMS', client))).reason).toBe(
        MfaErrorCode.MFA_METHOD_UNAVAILABLE,
      );
      expect((await h.service.verifyChallenge(mfaToken, backupCodes[0]!, client)).method).toBe('BACKUP_CODE');
    });

    it('need an international number', async () => {
      const h = await harness();
      const user = await newUser();
      for (const bad of ['5558670000', '+0123456', 'call me']) {
        expect(await failure(h.service.enrollSms(user.id, bad, client))).toMatchObject({
          code: ErrorCode.BAD_USER_INPUT,
          reason: MfaErrorCode.PHONE_NUMBER_INVALID,
        });
      }
    });
  });

  describe('e-mail codes', () => {
    it('enroll the account address and pass a challenge, through the real mailer and SMTP', async () => {
      const h = await harness();
      const user = await newUser();
      const sent = await h.service.enrollEmail(user.id, client);
      expect(sent.destination).toBe(`m***@example.test`);
      const { backupCodes } = await h.service.confirmEmail(user.id, await mailedCode(user.email, 1), client);
      expect(backupCodes).toHaveLength(10);

      const { mfaToken, methods } = await h.service.createChallenge(user.id, {});
      expect(methods).toEqual(['EMAIL', 'BACKUP_CODE']);
      await h.service.sendChallengeCode(mfaToken, 'EMAIL', client);
      const code = await mailedCode(user.email, 2);
      expect((await h.service.verifyChallenge(mfaToken, code, client)).method).toBe('EMAIL');
      // The queued mail's data (with the code) is encrypted at rest and dropped once sent.
      await waitFor(async () =>
        (
          await db.prisma.emailDelivery.findMany({ where: { recipient: user.email, template: 'mfa-code' } })
        ).every((row) => row.status === 'SENT' && row.payloadEncrypted === null),
      );
    });
  });

  describe('backup codes', () => {
    it('each work once, typed any way, and the owner is warned when 2 or fewer remain', async () => {
      const h = await harness();
      const user = await newUser();
      const { backupCodes } = await enableTotp(h, user);
      const typed = (code: string, i: number) =>
        i % 3 === 0 ? code : i % 3 === 1 ? code.toUpperCase() : code.replace('-', '');

      for (const [i, code] of backupCodes.entries()) {
        const { mfaToken, methods } = await h.service.createChallenge(user.id, {});
        expect(methods).toEqual(['TOTP', 'BACKUP_CODE']);
        if (i > 0) {
          // The code used just before is spent, however it is typed.
          const spent = await failure(
            h.service.verifyChallenge(mfaToken, typed(backupCodes[i - 1]!, i), client),
          );
          expect(spent.reason).toBe(MfaErrorCode.MFA_CODE_INVALID);
        }
        expect(await h.service.verifyChallenge(mfaToken, typed(code, i), client)).toMatchObject({
          method: 'BACKUP_CODE',
          backupCodesRemaining: 9 - i,
        });
      }
      const { mfaToken, methods } = await h.service.createChallenge(user.id, {});
      expect(methods).toEqual(['TOTP']);
      expect((await failure(h.service.verifyChallenge(mfaToken, backupCodes[0]!, client))).reason).toBe(
        MfaErrorCode.MFA_CODE_INVALID,
      );
      expect((await mailTemplates(user.email)).filter((t) => t === 'backup-codes-low')).toHaveLength(3);
      expect((await auditTrail(user.id)).filter((entry) => entry.action === 'BACKUP_CODE_USED')).toHaveLength(
        10,
      );
      await waitFor(() => h.events.filter((e) => e.topic === MfaEventTopic.BACKUP_CODE_USED).length === 10);
      const low = await smtp.waitForMail(
        (m) => m.envelope.to.includes(user.email) && m.text.includes('You have used all backup codes'),
        { timeoutMs: 10_000 },
      );
      expect(low.subject).toBe('You are running out of Gatehouse backup codes');
    });

    it('regenerating needs the password; a wrong one counts toward the lockout; new codes replace all', async () => {
      const h = await harness();
      const user = await newUser();
      const { backupCodes: old } = await enableTotp(h, user);

      expect(
        await failure(h.service.regenerateBackupCodes(user.id, 'not the password', client)),
      ).toMatchObject({
        code: ErrorCode.BAD_USER_INPUT,
        reason: 'INVALID_CREDENTIALS',
      });
      expect((await userRow(user.id)).failedLoginCount).toBe(1);
      const fresh = await h.service.regenerateBackupCodes(user.id, PASSWORD, client);
      expect(fresh).toHaveLength(10);
      expect(fresh.some((code) => old.includes(code))).toBe(false);
      expect((await userRow(user.id)).failedLoginCount).toBe(0);
      expect((await h.service.status(user.id)).backupCodesRemaining).toBe(10);

      const { mfaToken } = await h.service.createChallenge(user.id, {});
      expect((await failure(h.service.verifyChallenge(mfaToken, old[0]!, client))).reason).toBe(
        MfaErrorCode.MFA_CODE_INVALID,
      );
      expect((await h.service.verifyChallenge(mfaToken, fresh[0]!, client)).method).toBe('BACKUP_CODE');
      expect((await auditTrail(user.id)).filter((e) => e.action === 'BACKUP_CODES_REGENERATED')).toEqual([
        expect.objectContaining({ outcome: 'FAILURE', reason: 'WRONG_PASSWORD' }),
        expect.objectContaining({ outcome: 'SUCCESS', count: 10 }),
      ]);

      const withoutMfa = await newUser();
      expect((await failure(h.service.regenerateBackupCodes(withoutMfa.id, PASSWORD, client))).reason).toBe(
        MfaErrorCode.MFA_NOT_ENABLED,
      );
    });

    it('refuses to regenerate with the right password while the account is locked', async () => {
      const h = await harness();
      const user = await newUser();
      await enableTotp(h, user);
      for (let i = 0; i < 5; i++) await failure(h.service.regenerateBackupCodes(user.id, 'wrong!', client));
      expect((await userRow(user.id)).lockedUntil).not.toBeNull();
      expect(await mailTemplates(user.email)).toContain('account-locked');
      expect((await failure(h.service.regenerateBackupCodes(user.id, PASSWORD, client))).reason).toBe(
        'INVALID_CREDENTIALS',
      );
    });
  });

  describe('disable', () => {
    it('needs the password and a code, clears everything, signs out the other sessions and mails the owner', async () => {
      const h = await harness();
      const user = await newUser();
      const { secret } = await enableTotp(h, user);
      const [current, ...others] = await Promise.all(
        [1, 2, 3].map(() =>
          h.sessions.createSession({ userId: user.id, userAgent: client.userAgent, ip: client.ip }),
        ),
      );
      h.advance(30_000);
      const code = codeAt(secret, h.clock.now);

      expect(
        await failure(h.service.disable(user.id, current!.sessionId, 'wrong password', code, client)),
      ).toMatchObject({
        reason: 'INVALID_CREDENTIALS',
      });
      expect((await userRow(user.id)).failedLoginCount).toBe(1);
      const wrong = code === '000000' ? '000001' : '000000';
      expect(
        await failure(h.service.disable(user.id, current!.sessionId, PASSWORD, wrong, client)),
      ).toMatchObject({
        code: ErrorCode.BAD_USER_INPUT,
        reason: MfaErrorCode.MFA_CODE_INVALID,
      });
      expect(await h.service.isRequired(user.id)).toBe(true);

      await h.service.disable(user.id, current!.sessionId, PASSWORD, code, client);

      expect(await userRow(user.id)).toMatchObject({ mfaEnabled: false, mfaEnabledAt: null });
      expect(await db.prisma.mfaFactor.count({ where: { userId: user.id } })).toBe(0);
      expect(await db.prisma.backupCode.count({ where: { userId: user.id } })).toBe(0);
      expect(await h.service.isRequired(user.id)).toBe(false);
      expect(await h.service.status(user.id)).toEqual({
        enabled: false,
        factors: [],
        backupCodesRemaining: 0,
      });
      const sessions = await db.prisma.session.findMany({ where: { userId: user.id } });
      expect(sessions.find((s) => s.familyId === current!.sessionId)).toMatchObject({ revokedAt: null });
      expect(
        sessions.filter((s) => others.some((o) => o.sessionId === s.familyId)).map((s) => s.revokeReason),
      ).toEqual(['MFA_CHANGED', 'MFA_CHANGED']);
      expect(await mailTemplates(user.email)).toEqual(['mfa-enabled', 'mfa-disabled']);
      expect((await auditTrail(user.id)).filter((e) => e.action === 'MFA_DISABLED')).toEqual([
        expect.objectContaining({ outcome: 'FAILURE', reason: 'WRONG_PASSWORD' }),
        expect.objectContaining({ outcome: 'FAILURE', reason: MfaErrorCode.MFA_CODE_INVALID }),
        expect.objectContaining({ outcome: 'SUCCESS', method: 'TOTP', sessionsRevoked: 2 }),
      ]);
      await waitFor(() => h.events.some((e) => e.topic === MfaEventTopic.MFA_DISABLED));

      await expect(h.service.createChallenge(user.id, {})).rejects.toMatchObject({
        details: { reason: MfaErrorCode.MFA_NOT_ENABLED },
      });
      expect((await failure(h.service.disable(user.id, null, PASSWORD, code, client))).reason).toBe(
        MfaErrorCode.MFA_NOT_ENABLED,
      );
    });

    it('accepts a backup code, or a mailed code sent for it', async () => {
      const h = await harness();
      const withApp = await newUser();
      const { backupCodes } = await enableTotp(h, withApp);
      await h.service.disable(withApp.id, null, PASSWORD, backupCodes[3]!, client);
      expect((await userRow(withApp.id)).mfaEnabled).toBe(false);

      const withEmail = await newUser();
      await h.service.enrollEmail(withEmail.id, client);
      await h.service.confirmEmail(withEmail.id, await mailedCode(withEmail.email, 1), client);
      await h.service.sendVerificationCode(withEmail.id, 'EMAIL', client);
      await h.service.disable(withEmail.id, null, PASSWORD, await mailedCode(withEmail.email, 2), client);
      expect((await userRow(withEmail.id)).mfaEnabled).toBe(false);
    });

    it('stops checking codes after 5 wrong ones', async () => {
      const h = await harness();
      const user = await newUser();
      const { backupCodes } = await enableTotp(h, user);
      for (let i = 0; i < 5; i++) {
        expect(
          (await failure(h.service.disable(user.id, null, PASSWORD, 'zzzzz-zzzzz', client))).reason,
        ).toBe(MfaErrorCode.MFA_CODE_INVALID);
      }
      expect(
        await failure(h.service.disable(user.id, null, PASSWORD, backupCodes[0]!, client)),
      ).toMatchObject({
        code: ErrorCode.RATE_LIMITED,
        reason: MfaErrorCode.MFA_TOO_MANY_ATTEMPTS,
      });
      expect((await userRow(user.id)).mfaEnabled).toBe(true);
    });
  });
});

describe('SMS provider timeouts', () => {
  it('answer SMS_UNAVAILABLE within the sender timeout', async () => {
    const hanging: SmsSender = createTwilioSmsSender({
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      from: '+15005550006',
      baseUrl: twilio.baseUrl,
      timeoutMs: 200,
    });
    const kv = new MemoryKeyValueStore();
    const bus = new MemoryEventBus();
    const service = createMfaService({
      repository: createMfaRepository(db.prisma),
      kv,
      events: bus,
      mailer,
      cipher,
      accounts: createAccountRepository(db.prisma),
      hasher,
      guard: createLoginGuard({ kv, repository: createLoginGuardRepository(db.prisma) }),
      audit: createAuditLog(db.prisma),
      sessions: { revokeOtherSessions: async () => 0 },
      sms: hanging,
      issuer: ISSUER,
    });
    const user = await newUser();
    twilio.fail('hang');
    const started = Date.now();
    expect((await failure(service.enrollSms(user.id, user.phone, client))).reason).toBe(
      MfaErrorCode.SMS_UNAVAILABLE,
    );
    expect(Date.now() - started).toBeLessThan(3000);
    // The factor being enrolled stays unconfirmed, and no code is pending.
    expect(await kv.get(`mfa:code:enroll-sms:${user.id}`)).toBeNull();
    await Promise.all([kv.close(), bus.close()]);
  });
});
