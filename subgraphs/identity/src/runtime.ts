import { createPasswordHasher, deriveSecret } from '@gatehouse/crypto';
import type { PrismaClient } from '@gatehouse/db';
import type { JobQueue } from '@gatehouse/jobs';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import { startStaleDeliverySweep } from '@gatehouse/mail';
import {
  createAccessTokenSigner,
  createEffectivePermissions,
  createKeyRing,
  type EffectivePermissions,
  type ServiceKit,
} from '@gatehouse/service';
import { startAuditPartitionSchedule } from '@gatehouse/audit';
import { createAdminService, createAdminUserRepository, type AdminService } from './admin';
import { AuditAction, createAuditLog } from './audit';
import {
  createLeavingRepository,
  createLeavingService,
  startPurgeSchedule,
  type LeavingService,
} from './leaving';
import { createMfaRepository, createMfaService, createSmsSender, type MfaService } from './mfa';
import { createOAuthAccountRepository, createOAuthService, type OAuthService } from './oauth';
import type { IdentityConfig } from './config';
import {
  createCaptchaVerifier,
  createCurrentPasswordCheck,
  createDummyPasswordCheck,
  createLoginGuard,
  createLoginGuardRepository,
  createPasswordHistory,
  createPasswordHistoryRepository,
  livePasswordPolicy,
} from './credentials';
import { createIdentitySettings, type IdentitySettings } from './settings/identity-settings';
import { createPasswordResetTokenRepository, createPasswordService, type PasswordService } from './password';
import {
  createMailThrottle,
  createRegistrationService,
  createVerificationTokenRepository,
  type RegistrationService,
} from './registration';
import { createSignInService, type SignInService } from './sign-in';
import {
  createAccountRepository,
  createEmailChangeService,
  createUserRepository,
  type EmailChangeService,
} from './users';
import {
  createSessionRepository,
  createSessionService,
  SessionEventTopic,
  type GeoLocator,
  type RefreshTokenReusedEvent,
} from './sessions';
import { createPlanSessionLimit } from './sessions/plan-session-limit';
import { createPlanSessionLimitsRepository } from './sessions/plan-session-limits.repository';

/** The `deriveSecret` purpose of the key that pseudonymises purged users in the audit trail. Never change it. */
const AUDIT_PSEUDONYM_PURPOSE = 'audit-pseudonym:v1';
const MAIL_THROTTLE_PURPOSE = 'mail-throttle-address:v1';

/** The sign-up, sign-in and session flows, built once per process. */
export interface IdentityServices {
  registration: RegistrationService;
  signIn: SignInService;
  password: PasswordService;
  mfa: MfaService;
  oauth: OAuthService;
  emailChange: EmailChangeService;
  leaving: LeavingService;
  /** The admin user API (listing, status, deletion, impersonation). */
  admin: AdminService;
  /**
   * Live permissions for `hasPermission` rules, from the shared store that access-control invalidates: a revoked
   * `users:write` stops working on the next request, whatever the token says.
   */
  effectivePermissions: EffectivePermissions;
}

export interface CreateIdentityServicesOptions {
  prisma: PrismaClient;
  logger: Logger;
  config: IdentityConfig;
  /** The store the subgraphs' `sessionCheck` reads: revocations are written to it. The caller closes it. */
  kv: KeyValueStore;
  /** Opened once at start-up by the caller (`openGeoLocator()`); default: no locations. */
  geo?: GeoLocator;
  /**
   * The process's bus, queue, settings, storage (shared with the account subgraph), cipher and mail
   * (`runtime.kit`); the caller closes it. Runtime settings changed by access-control reach this process through
   * its bus at once.
   */
  kit: Pick<
    ServiceKit,
    'events' | 'jobQueue' | 'settings' | 'storage' | 'encryptionKeys' | 'cipher' | 'mail'
  >;
}

/** The minimum password length while `security.passwordMinLength` was never set (the policy's own default). */
const DEFAULT_PASSWORD_MIN_LENGTH = 12;

/**
 * Builds the identity flows over the process's kit: token signing, sessions, lockout guard, CAPTCHA, audit log,
 * the stale-mail sweep and the purge and partition schedules.
 * Without JWT_PRIVATE_KEY no tokens can be issued: start-up fails (`npm start` generates a development key).
 */
export async function createIdentityServices(options: CreateIdentityServicesOptions): Promise<{
  services: IdentityServices;
  jobQueue: JobQueue;
  /** Live sessions over all users, for the `activeSessions` gauge. */
  countLiveSessions(): Promise<number>;
  close(): Promise<void>;
}> {
  const { prisma, logger, config } = options;
  const privateKey = config.signing.JWT_PRIVATE_KEY;
  if (!privateKey) {
    throw new Error('JWT_PRIVATE_KEY is not set: the identity subgraph cannot issue tokens without it');
  }
  const ring = createKeyRing({
    privateKey,
    ...(config.auth.JWT_PUBLIC_KEY ? { publicKeys: config.auth.JWT_PUBLIC_KEY } : {}),
  });
  const signingKey = ring.signingKey;
  if (!signingKey) throw new Error('JWT_PRIVATE_KEY holds no signing key');
  const signer = createAccessTokenSigner({
    key: signingKey,
    issuer: config.auth.JWT_ISSUER,
    audience: config.auth.JWT_AUDIENCE,
  });

  const { kv, kit } = options;
  const { events, jobQueue, encryptionKeys, cipher, storage, mail } = kit;
  const settingsStore = kit.settings;
  // Listening before the first request: a change made meanwhile is not missed. A bus failure is reported by the
  // store and leaves the TTL to expire entries; it must not keep identity from starting.
  await settingsStore.ready.catch(() => undefined);
  const settings: IdentitySettings = createIdentitySettings({
    store: settingsStore,
    fallback: {
      lockout: {
        maxFailures: config.security.LOGIN_MAX_FAILURES,
        windowSeconds: config.security.LOGIN_FAILURE_WINDOW_SECONDS,
        lockSeconds: config.security.LOGIN_LOCK_SECONDS,
      },
      passwordMinLength: DEFAULT_PASSWORD_MIN_LENGTH,
    },
  });
  const mailLogger = logger.child({ module: 'mail' });
  const { mailer } = mail;
  const stopSweep = startStaleDeliverySweep({ mailer, logger: mailLogger });

  const hasher = createPasswordHasher({
    memoryCost: config.crypto.ARGON2_MEMORY_KIB,
    timeCost: config.crypto.ARGON2_TIME_COST,
    parallelism: config.crypto.ARGON2_PARALLELISM,
  });
  const dummy = createDummyPasswordCheck(hasher);
  await dummy.ready();
  const audit = createAuditLog(prisma);
  const accounts = createAccountRepository(prisma);
  const users = createUserRepository(prisma);
  const verificationTokens = createVerificationTokenRepository(prisma);
  const sessionRepository = createSessionRepository(prisma);
  const sessions = createSessionService({
    repository: sessionRepository,
    kv,
    events,
    ...(options.geo ? { geo: options.geo } : {}),
    logger: logger.child({ module: 'sessions' }),
    ...(config.security.NEW_SIGN_IN_ALERT_DAYS > 0
      ? { knownDeviceWindowSeconds: config.security.NEW_SIGN_IN_ALERT_DAYS * 86_400 }
      : {}),
    // The plan's `sessions` limit when the user's subscription sets one, else SESSION_LIMIT_PER_USER.
    maxSessionsPerUser: createPlanSessionLimit(
      createPlanSessionLimitsRepository(prisma),
      config.security.SESSION_LIMIT_PER_USER,
    ),
  });
  const unsubscribe = await events.subscribe(SessionEventTopic.REFRESH_TOKEN_REUSED, async (payload) => {
    const event = payload as RefreshTokenReusedEvent;
    await audit
      .record({
        action: AuditAction.REFRESH_TOKEN_REUSED,
        outcome: 'FAILURE',
        targetType: 'Session',
        targetId: event.sessionId,
        ip: event.ip,
        userAgent: event.userAgent,
        at: new Date(event.at),
        metadata: { userId: event.userId, sessionRevoked: true },
      })
      .catch((err: unknown) => logger.error({ err }, 'could not audit a refresh token reuse'));
  });

  const guard = createLoginGuard({
    kv,
    repository: createLoginGuardRepository(prisma),
    logger,
    limits: settings.lockout,
    events,
  });
  const policy = livePasswordPolicy(settings.passwordMinLength);
  const publicUrl = config.mail.PUBLIC_URL;
  const mailThrottle = createMailThrottle({
    kv,
    addressKey: deriveSecret(encryptionKeys, MAIL_THROTTLE_PURPOSE),
    logger: logger.child({ module: 'mail-throttle' }),
  });
  const registration = createRegistrationService({
    accounts,
    users,
    verificationTokens,
    hasher,
    policy,
    captcha: createCaptchaVerifier({
      provider: config.captcha.CAPTCHA_PROVIDER,
      ...(config.captcha.CAPTCHA_SECRET ? { secret: config.captcha.CAPTCHA_SECRET } : {}),
      ...(config.captcha.CAPTCHA_VERIFY_URL ? { verifyUrl: config.captcha.CAPTCHA_VERIFY_URL } : {}),
    }),
    mailer,
    audit,
    mailThrottle,
    publicUrl,
  });
  const oauth = createOAuthService({
    accounts,
    repository: createOAuthAccountRepository(prisma),
    kv,
    cipher,
    audit,
    config: config.oauth,
    requestEmailVerification: (email) => registration.resendVerificationEmail(email),
    // The callback hands the app a one-time code; the signed-in app finishes the link, so a link is bound to the
    // browser that started it (no login CSRF into someone else's account).
    linkCompletion: 'app',
    providerRules: settings.oauthProviderRules,
    logger: logger.child({ module: 'oauth' }),
  });
  const mfa = createMfaService({
    repository: createMfaRepository(prisma),
    kv,
    events,
    mailer,
    cipher,
    accounts,
    hasher,
    guard,
    audit,
    sessions,
    sms: createSmsSender(config.mfa),
    issuer: config.mfa.MFA_ISSUER,
    publicUrl,
    logger: logger.child({ module: 'mfa' }),
  });
  const checkPassword = createCurrentPasswordCheck({ accounts, hasher, guard, audit, mailer });
  const leaving = createLeavingService({
    repository: createLeavingRepository(prisma),
    accounts,
    hasher,
    guard,
    sessions,
    mailer,
    audit,
    kv,
    storage,
    publicUrl,
    // Stable for as long as the active encryption key: the same user always gets the same pseudonym.
    pseudonymKey: deriveSecret(encryptionKeys, AUDIT_PSEUDONYM_PURPOSE),
    checkPassword,
    logger: logger.child({ module: 'leaving' }),
  });
  const purgeSchedule = startPurgeSchedule({ jobQueue, leaving, logger: logger.child({ module: 'purge' }) });
  // Audit partitions for the coming months, created ahead of time once a day (the identity process runs it).
  const partitionSchedule = startAuditPartitionSchedule({
    jobQueue,
    prisma,
    logger: logger.child({ module: 'audit-partitions' }),
  });
  const services: IdentityServices = {
    registration,
    leaving,
    admin: createAdminService({
      users: createAdminUserRepository(prisma),
      accounts,
      sessions,
      leaving,
      signer,
      audit,
    }),
    effectivePermissions: createEffectivePermissions({
      prisma,
      kv,
      onCacheError: (err) => logger.warn({ err }, 'effective permissions: cache unavailable'),
    }),
    emailChange: createEmailChangeService({
      accounts,
      users,
      verificationTokens,
      checkPassword,
      mailer,
      audit,
      publicUrl,
    }),
    mfa,
    oauth,
    signIn: createSignInService({
      accounts,
      hasher,
      dummy,
      guard,
      sessions,
      signer,
      mailer,
      audit,
      mfa,
      oauth,
      reactivation: (account, client) => leaving.requestReactivation(account, client),
      mfaRequiredRoles: settings.mfaRequiredRoles,
      newSignInAlerts: config.security.NEW_SIGN_IN_ALERT_DAYS > 0,
      publicUrl,
      logger: logger.child({ module: 'sign-in' }),
    }),
    password: createPasswordService({
      accounts,
      resetTokens: createPasswordResetTokenRepository(prisma),
      kv,
      hasher,
      dummy,
      policy,
      history: createPasswordHistory({ repository: createPasswordHistoryRepository(prisma), hasher }),
      guard,
      sessions,
      mailer,
      audit,
      mailThrottle,
      publicUrl,
      logger: logger.child({ module: 'password' }),
    }),
  };

  return {
    services,
    jobQueue,
    countLiveSessions: () => sessionRepository.countLive(),
    async close() {
      // The kit and the store are closed by whoever built them.
      purgeSchedule.stop();
      partitionSchedule.stop();
      await stopSweep();
      await unsubscribe();
    },
  };
}
