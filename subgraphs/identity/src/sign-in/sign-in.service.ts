import type { PasswordHasher } from '@gatehouse/crypto';
import { AuthenticationError, NotFoundError } from '@gatehouse/errors';
import type { Mailer } from '@gatehouse/mail';
import { ACCESS_TOKEN_TTL_SECONDS, type AccessTokenSigner, type Viewer } from '@gatehouse/service';
import { AuditAction, type AuditLog } from '../audit';
import {
  CredentialErrorCode,
  parseLoginInput,
  verifyAndUpgrade,
  type DummyPasswordCheck,
  type LoginGuard,
  auditClientFields,
  recordWrongPassword,
} from '../credentials';
import type { AccountRecord, AccountRepository } from '../users';
import { SessionErrorCode, type CreatedSession, type ListedSession, type SessionService } from '../sessions';
import type { ClientInfo } from '../client-info';

/** Tokens of a signed-in session. */
export interface IssuedTokens {
  userId: string;
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

/** The second-factor step the sign-in flow needs (implemented by the mfa module). */
export interface SecondFactor {
  /** Whether the account must prove a second factor to sign in. */
  isRequired(userId: string): Promise<boolean>;
  createChallenge(
    userId: string,
    context: Record<string, string | null>,
  ): Promise<{ mfaToken: string; methods: string[]; expiresAt: Date }>;
  /** @throws AuthenticationError for a wrong code or an unknown, used or expired challenge. */
  verifyChallenge(
    mfaToken: string,
    code: string,
    client: ClientInfo,
  ): Promise<{
    userId: string;
    method: string;
    context: Record<string, string | null>;
    backupCodesRemaining: number | null;
  }>;
}

/** The social sign-in step (implemented by the oauth module): who the callback proved the browser to be. */
export interface SocialSignIn {
  /**
   * `browserBinding`: the caller's completion cookie, required for flows started with the REST route.
   * @throws AuthenticationError for an unknown, used or foreign result code, or another browser's flow.
   */
  completeSignIn(
    code: string,
    state: string,
    client?: ClientInfo,
    browserBinding?: string | null,
  ): Promise<{ userId: string; provider: string }>;
}

/** A pending sign-in that needs a second factor. */
export interface MfaRequired {
  mfaToken: string;
  methods: string[];
  expiresAt: Date;
}

/** What the first factor (a password, a provider) leads to: tokens, or a second-factor challenge. */
export type SignInResult = { tokens: IssuedTokens } | { mfa: MfaRequired };

export interface SignInService {
  /**
   * @throws AuthenticationError: INVALID_CREDENTIALS for every failure (a locked account included); after a
   * correct password ACCOUNT_NOT_VERIFIED, ACCOUNT_DEACTIVATED or MFA_SETUP_REQUIRED.
   */
  login(input: { email: string; password: string }, client: ClientInfo): Promise<SignInResult>;
  /** Finishes a sign-in that needed a second factor. @throws AuthenticationError (the mfa module's reasons). */
  verifyMfa(
    mfaToken: string,
    code: string,
    client: ClientInfo,
  ): Promise<IssuedTokens & { backupCodesRemaining: number | null }>;
  /** Finishes a social sign-in with the callback's one-time code and the browser's state. */
  completeOAuthLogin(
    code: string,
    state: string,
    client: ClientInfo,
    browserBinding?: string | null,
  ): Promise<SignInResult>;
  /** Rotates the refresh token. @throws AuthenticationError with the session module's reasons. */
  refresh(refreshToken: string, client: ClientInfo): Promise<IssuedTokens>;
  /** Ends the refresh token's session, else the viewer's; false when there was no live session to end. */
  logout(
    refreshToken: string | null | undefined,
    viewer: Viewer | null,
    client: ClientInfo,
  ): Promise<boolean>;
  mySessions(viewer: Viewer): Promise<ListedSession[]>;
  /** @throws NotFoundError (SESSION_NOT_FOUND) unless it is a live session of the viewer. */
  revokeSession(viewer: Viewer, sessionId: string, client: ClientInfo): Promise<void>;
  /** @returns how many sessions were ended. */
  revokeOtherSessions(viewer: Viewer, client: ClientInfo): Promise<number>;
}

export interface SignInServiceOptions {
  accounts: AccountRepository;
  hasher: PasswordHasher;
  dummy: DummyPasswordCheck;
  guard: LoginGuard;
  sessions: SessionService;
  signer: AccessTokenSigner;
  /** Must match the signer's lifetime. Default {@link ACCESS_TOKEN_TTL_SECONDS}. */
  accessTokenTtlSeconds?: number;
  mailer: Pick<Mailer, 'send'>;
  audit: AuditLog;
  mfa: SecondFactor;
  oauth: SocialSignIn;
  /**
   * Called after a correct password for a DEACTIVATED account: mails a reactivation link (at most one per few
   * minutes). Without it the sign-in is only refused.
   */
  reactivation?: (account: AccountRecord, client: ClientInfo) => Promise<{ mailed: boolean }>;
  /**
   * Roles whose holders must have a second factor to sign in (the `security.mfaRequiredRoles` setting), read on
   * every sign-in. Default: none.
   */
  mfaRequiredRoles?: () => Promise<readonly string[]>;
  /** Mail the owner when a sign-in comes from a new device or country. Default true. */
  newSignInAlerts?: boolean;
  /** Base of links in mail (PUBLIC_URL). */
  publicUrl: string;
  /** Receives failures of best-effort work (the new sign-in alert). */
  logger?: { warn(details: object, message: string): void };
  now?: () => Date;
}

/** Suspended, deactivated and deleted accounts neither sign in nor keep their sessions. */
const isClosed = (account: Pick<AccountRecord, 'status'>) =>
  account.status === 'SUSPENDED' || account.status === 'DEACTIVATED' || account.status === 'DELETED';

function invalidCredentials(): AuthenticationError {
  return new AuthenticationError('Invalid email or password', {
    details: { reason: CredentialErrorCode.INVALID_CREDENTIALS },
  });
}

export function createSignInService(options: SignInServiceOptions): SignInService {
  const { accounts, hasher, dummy, guard, sessions, signer, mailer, audit, mfa, oauth, publicUrl, logger } =
    options;
  const newSignInAlerts = options.newSignInAlerts ?? true;
  const accessTtl = options.accessTokenTtlSeconds ?? ACCESS_TOKEN_TTL_SECONDS;
  const now = options.now ?? (() => new Date());

  async function issueTokens(
    account: Pick<AccountRecord, 'id' | 'email'>,
    session: { sessionId: string; refreshToken: string; expiresAt: Date },
  ): Promise<IssuedTokens> {
    const { roles, permissions } = await accounts.accessClaims(account.id);
    // Computed before signing: the token's own `exp` is never later than what the client is told.
    const accessTokenExpiresAt = new Date(now().getTime() + accessTtl * 1000);
    const accessToken = await signer.sign({
      userId: account.id,
      email: account.email,
      roles,
      permissions,
      sessionId: session.sessionId,
    });
    return {
      userId: account.id,
      accessToken,
      accessTokenExpiresAt,
      refreshToken: session.refreshToken,
      refreshTokenExpiresAt: session.expiresAt,
    };
  }

  async function failLogin(
    account: AccountRecord | null,
    reason: string,
    client: ClientInfo,
  ): Promise<AuthenticationError> {
    await audit.record({
      action: AuditAction.LOGIN_FAILED,
      outcome: 'FAILURE',
      targetType: account ? 'User' : null,
      targetId: account?.id ?? null,
      ...auditClientFields(client),
      metadata: { reason },
    });
    return invalidCredentials();
  }

  /** Signs in for real: a device session, tokens, the audit row and the new-device alert. */
  async function startSession(
    account: AccountRecord,
    client: ClientInfo,
    how: { via: string; mfa?: string },
  ): Promise<IssuedTokens> {
    const session = await sessions.createSession({
      userId: account.id,
      userAgent: client.userAgent,
      ip: client.ip,
    });
    const tokens = await issueTokens(account, session);
    const signedInAt = now();
    await accounts.recordSignIn(account.id, signedInAt);
    await audit.record({
      action: AuditAction.LOGIN_SUCCEEDED,
      outcome: 'SUCCESS',
      actorUserId: account.id,
      targetType: 'User',
      targetId: account.id,
      ...auditClientFields(client),
      metadata: {
        sessionId: session.sessionId,
        device: session.device.novelty,
        via: how.via,
        mfa: how.mfa ?? null,
      },
    });
    await alertNewSignIn(account, session, signedInAt);
    return tokens;
  }

  /** After a proven first factor: a second-factor challenge when the account has MFA on, else a session. */
  async function finishFirstFactor(
    account: AccountRecord,
    client: ClientInfo,
    via: string,
  ): Promise<SignInResult> {
    if (await mfa.isRequired(account.id)) {
      const challenge = await mfa.createChallenge(account.id, { via });
      return { mfa: challenge };
    }
    const requiredFor = await mfaRequiredRole(account);
    if (requiredFor !== null) {
      await audit.record({
        action: AuditAction.LOGIN_FAILED,
        outcome: 'FAILURE',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ...auditClientFields(client),
        metadata: { reason: CredentialErrorCode.MFA_SETUP_REQUIRED, via, role: requiredFor },
      });
      throw new AuthenticationError('Set up two-step verification before signing in', {
        details: { reason: CredentialErrorCode.MFA_SETUP_REQUIRED },
      });
    }
    return { tokens: await startSession(account, client, { via }) };
  }

  /** The first role the account holds that demands a second factor, or null (no query when none does). */
  async function mfaRequiredRole(account: AccountRecord): Promise<string | null> {
    const required = (await options.mfaRequiredRoles?.()) ?? [];
    if (required.length === 0) return null;
    const { roles } = await accounts.accessClaims(account.id);
    return roles.find((role) => required.includes(role)) ?? null;
  }

  /** Tells the owner about a sign-in from somewhere new; never fails the sign-in it is about. */
  async function alertNewSignIn(account: AccountRecord, session: CreatedSession, at: Date): Promise<void> {
    if (!newSignInAlerts || session.device.novelty !== 'NEW_DEVICE') return;
    const { description, location, ip } = session.device;
    try {
      await mailer.send({
        to: account.email,
        template: 'new-sign-in',
        userId: account.id,
        idempotencyKey: `new-sign-in:${session.sessionId}`,
        data: {
          ...(account.displayName ? { name: account.displayName } : {}),
          device: description,
          ...(location ? { location } : {}),
          ...(ip ? { ip } : {}),
          at,
          manageSessionsUrl: `${publicUrl}/account/sessions`,
        },
      });
    } catch (err) {
      logger?.warn({ err, userId: account.id }, 'could not send the new sign-in alert');
    }
  }

  function refusedAfterPassword(account: AccountRecord): AuthenticationError | null {
    if (isClosed(account)) {
      return new AuthenticationError('This account is deactivated', {
        details: { reason: CredentialErrorCode.ACCOUNT_DEACTIVATED },
      });
    }
    if (account.status === 'PENDING_VERIFICATION' || !account.emailVerified) {
      return new AuthenticationError('Verify your email address before signing in', {
        details: { reason: CredentialErrorCode.ACCOUNT_NOT_VERIFIED },
      });
    }
    return null;
  }

  /**
   * After a proven first factor (password or provider): the refusal of an account that may not sign in, audited.
   * The owner of a deactivated account gets a reactivation link: proving the first factor is how it comes back.
   */
  async function refusalAfterFirstFactor(
    account: AccountRecord,
    client: ClientInfo,
    via: string,
  ): Promise<AuthenticationError | null> {
    const refused = refusedAfterPassword(account);
    if (!refused) return null;
    await audit.record({
      action: AuditAction.LOGIN_FAILED,
      outcome: 'FAILURE',
      actorUserId: account.id,
      targetType: 'User',
      targetId: account.id,
      ...auditClientFields(client),
      metadata: { reason: (refused.details as { reason: string }).reason, via },
    });
    if (account.status !== 'DEACTIVATED' || !options.reactivation) return refused;
    const { mailed } = await options.reactivation(account, client);
    return new AuthenticationError(
      'This account is deactivated; we sent a link to reactivate it to its email address',
      { details: { reason: CredentialErrorCode.ACCOUNT_DEACTIVATED, reactivationMailed: mailed } },
    );
  }

  return {
    async login(input, client) {
      const parsed = parseLoginInput(input);
      if (!parsed.ok) throw await failLogin(null, 'MALFORMED_INPUT', client);
      const { email, password } = parsed.value;
      const account = await accounts.findByEmail(email);

      // A locked account answers exactly like a wrong password, whatever password was sent (see createLoginGuard).
      // The attempt is counted before the password is verified, so parallel guesses cannot outrun the limit.
      const attempt = account ? await guard.reservePasswordAttempt(account.id) : null;
      if (account && !attempt) {
        await dummy.equalizeTiming(password);
        throw await failLogin(account, CredentialErrorCode.ACCOUNT_LOCKED, client);
      }

      const verification = await verifyAndUpgrade(hasher, account, password, dummy);
      if (!verification.ok || !account) {
        if (account && attempt) await recordWrongPassword({ guard, audit, mailer }, account, client, attempt);
        throw await failLogin(account, account ? 'WRONG_PASSWORD' : 'UNKNOWN_EMAIL', client);
      }

      if (verification.newHash) await accounts.updatePasswordHash(account.id, verification.newHash);
      await guard.recordSuccess(account.id);
      const refused = await refusalAfterFirstFactor(account, client, 'password');
      if (refused) throw refused;

      return finishFirstFactor(account, client, 'password');
    },

    async verifyMfa(mfaToken, code, client) {
      const passed = await mfa.verifyChallenge(mfaToken, code, client);
      const account = await accounts.findById(passed.userId);
      // The account may have been locked, deactivated or suspended while the challenge was pending.
      if (!account || (await guard.lockedUntil(account.id))) {
        throw await failLogin(account, CredentialErrorCode.ACCOUNT_LOCKED, client);
      }
      const refused = refusedAfterPassword(account);
      if (refused) throw refused;
      const via = passed.context.via ?? 'password';
      const tokens = await startSession(account, client, { via, mfa: passed.method });
      return { ...tokens, backupCodesRemaining: passed.backupCodesRemaining };
    },

    async completeOAuthLogin(code, state, client, browserBinding) {
      const { userId, provider } = await oauth.completeSignIn(code, state, client, browserBinding);
      const account = await accounts.findById(userId);
      if (!account || (await guard.lockedUntil(account.id))) {
        throw await failLogin(account, CredentialErrorCode.ACCOUNT_LOCKED, client);
      }
      const refused = await refusalAfterFirstFactor(account, client, `oauth:${provider}`);
      if (refused) throw refused;
      return finishFirstFactor(account, client, `oauth:${provider}`);
    },

    async refresh(refreshToken, client) {
      const rotated = await sessions.rotateRefreshToken(refreshToken, {
        userAgent: client.userAgent,
        ip: client.ip,
      });
      const account = await accounts.findById(rotated.userId);
      if (!account || isClosed(account)) {
        await sessions
          .revokeSession(rotated.userId, rotated.sessionId, 'ADMIN_REVOKED')
          .catch(() => undefined);
        throw new AuthenticationError('The session has ended', {
          details: { reason: SessionErrorCode.SESSION_REVOKED },
        });
      }
      return issueTokens(account, rotated);
    },

    async logout(refreshToken, viewer, client) {
      let ended: { sessionId: string; userId: string } | null = null;
      if (refreshToken) {
        ended = await sessions.revokeByRefreshToken(refreshToken, 'LOGOUT');
      } else if (viewer?.sessionId) {
        try {
          await sessions.revokeSession(viewer.userId, viewer.sessionId, 'LOGOUT');
          ended = { sessionId: viewer.sessionId, userId: viewer.userId };
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error;
        }
      }
      if (!ended) return false;
      await audit.record({
        action: AuditAction.SESSION_REVOKED,
        outcome: 'SUCCESS',
        actorUserId: ended.userId,
        targetType: 'Session',
        targetId: ended.sessionId,
        ...auditClientFields(client),
        metadata: { reason: 'LOGOUT' },
      });
      return true;
    },

    mySessions: (viewer) => sessions.listSessions(viewer.userId, viewer.sessionId ?? null),

    async revokeSession(viewer, sessionId, client) {
      await sessions.revokeSession(viewer.userId, sessionId, 'USER_REVOKED');
      await audit.record({
        action: AuditAction.SESSION_REVOKED,
        outcome: 'SUCCESS',
        actorUserId: viewer.userId,
        targetType: 'Session',
        targetId: sessionId,
        ...auditClientFields(client),
        metadata: { reason: 'USER_REVOKED' },
      });
    },

    async revokeOtherSessions(viewer, client) {
      const count = await sessions.revokeOtherSessions(viewer.userId, viewer.sessionId ?? null);
      await audit.record({
        action: AuditAction.SESSIONS_REVOKED,
        outcome: 'SUCCESS',
        actorUserId: viewer.userId,
        targetType: 'User',
        targetId: viewer.userId,
        ...auditClientFields(client),
        metadata: { count, keptSessionId: viewer.sessionId ?? null },
      });
      return count;
    },
  };
}
