import { generateToken, hashToken, type PasswordHasher } from '@gatehouse/crypto';
import { AppError, ErrorCode } from '@gatehouse/errors';
import type { Mailer } from '@gatehouse/mail';
import { AuditAction, type AuditLog } from '../audit';
import {
  CredentialErrorCode,
  emailSchema,
  validateRegistrationInput,
  type CaptchaVerifier,
  resolvePasswordPolicy,
  type FieldError,
  type PasswordPolicy,
  type PasswordPolicySource,
} from '../credentials';
import { IdentityErrorCode } from '../error-codes';
import type { UserModel } from '../models';
import type { AccountRepository, UserRepository } from '../users';
import type { VerificationPurpose, VerificationTokenRepository } from './verification-token.repository';
import type { ClientInfo } from '../client-info';
import { atLeast, type MailThrottle } from './mail-throttle';

/** Verification links work this long. */
export const VERIFICATION_TOKEN_TTL_HOURS = 24;
const DEFAULT_ROLE = 'member';
/** generateToken(32) is 43 base64url characters; anything else is refused without a query. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
/**
 * `register` (once its input is valid) and `resendVerificationEmail` never answer faster than this, so the time
 * they take does not tell whether a mail was sent (new, unverified, verified or unknown address; throttled or not).
 */
const DEFAULT_MIN_DURATION_MS = 250;

export interface RegistrationInputFields {
  email: string;
  password: string;
  name: string;
  captchaToken?: string | null;
}

export interface RegistrationOutcome {
  accepted: boolean;
  fieldErrors: FieldError[];
}

export interface RegistrationService {
  /**
   * The same outcome for a new and an existing email (the owner of an existing one gets a mail instead).
   * @throws AppError BAD_USER_INPUT (CAPTCHA_INVALID) or CaptchaUnavailableError.
   */
  register(input: RegistrationInputFields, client: ClientInfo): Promise<RegistrationOutcome>;
  /** @throws AppError BAD_USER_INPUT with reason VERIFICATION_TOKEN_INVALID / _EXPIRED / _USED. */
  verifyEmail(token: string, client: ClientInfo): Promise<UserModel>;
  /** Mails a fresh link to an unverified account (throttled per address); silently does nothing otherwise. */
  resendVerificationEmail(email: string): Promise<void>;
}

export interface RegistrationServiceOptions {
  accounts: AccountRepository;
  users: UserRepository;
  verificationTokens: VerificationTokenRepository;
  hasher: PasswordHasher;
  /** A fixed policy, or the one in force per registration (settings). */
  policy: PasswordPolicy | PasswordPolicySource;
  captcha: CaptchaVerifier;
  mailer: Pick<Mailer, 'send'>;
  audit: AuditLog;
  /** Per-recipient limit of the mails `register` and `resendVerificationEmail` send. */
  mailThrottle: MailThrottle;
  /** Base of links in mail (PUBLIC_URL). */
  publicUrl: string;
  /** See DEFAULT_MIN_DURATION_MS. */
  minDurationMs?: number;
  now?: () => Date;
}

/** BAD_USER_INPUT with a reason clients can switch on. */
function badInput(reason: string, message: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
}

const tokenError = (reason: IdentityErrorCode, message: string) => badInput(reason, message);

export function createRegistrationService(options: RegistrationServiceOptions): RegistrationService {
  const { accounts, users, verificationTokens, hasher, policy, captcha, mailer, audit, publicUrl } = options;
  const { mailThrottle } = options;
  const now = options.now ?? (() => new Date());
  const minDuration = options.minDurationMs ?? DEFAULT_MIN_DURATION_MS;

  /** A fresh link, unless this address had its share of verification mails in the window. */
  async function resendVerification(
    user: { id: string; email: string; displayName: string | null },
    purpose: VerificationPurpose,
  ) {
    if (await mailThrottle.allow('verify-email', user.email)) await sendVerification(user, purpose);
  }

  async function sendVerification(
    user: { id: string; email: string; displayName: string | null },
    purpose: VerificationPurpose = 'SIGN_UP',
  ) {
    const token = generateToken(32);
    const expiresAt = new Date(now().getTime() + VERIFICATION_TOKEN_TTL_HOURS * 3600_000);
    const tokenId = await verificationTokens.replaceForUser({
      userId: user.id,
      email: user.email,
      tokenHash: hashToken(token),
      expiresAt,
      purpose,
    });
    await mailer.send({
      to: user.email,
      template: 'verify-email',
      userId: user.id,
      idempotencyKey: `verify-email:${tokenId}`,
      data: {
        ...(user.displayName ? { name: user.displayName } : {}),
        verifyUrl: `${publicUrl}/verify-email?token=${encodeURIComponent(token)}`,
        expiresInHours: VERIFICATION_TOKEN_TTL_HOURS,
      },
    });
  }

  return {
    async register(input, client) {
      if (!(await captcha.verify(input.captchaToken ?? '', client.ip ?? undefined))) {
        throw badInput(CredentialErrorCode.CAPTCHA_INVALID, 'The CAPTCHA was not solved, please try again');
      }
      const validated = validateRegistrationInput(
        { email: input.email, password: input.password, name: input.name },
        await resolvePasswordPolicy(policy),
      );
      if (!validated.ok) return { accepted: false, fieldErrors: validated.errors };
      const { email, password, name } = validated.value;

      return atLeast(minDuration, async () => {
        // Hashing before the lookup keeps "new" and "existing" equally slow.
        const passwordHash = await hasher.hash(password);
        const existing = await accounts.findByEmail(email);
        const created = existing
          ? null
          : await accounts.createPendingUser({
              email,
              passwordHash,
              displayName: name,
              defaultRole: DEFAULT_ROLE,
            });
        if (created) {
          // Counted like the other verification mails: the address cannot then get more than its share.
          await mailThrottle.allow('verify-email', email);
          await sendVerification({ id: created.id, email, displayName: name });
          await audit.record({
            action: AuditAction.USER_REGISTERED,
            outcome: 'SUCCESS',
            actorUserId: created.id,
            targetType: 'User',
            targetId: created.id,
            ip: client.ip,
            userAgent: client.userAgent,
            requestId: client.requestId,
          });
          return { accepted: true, fieldErrors: [] };
        }

        const owner = existing ?? (await accounts.findByEmail(email));
        if (owner) {
          // The first registration wins (issue #14): a repeat never touches the account's credentials, whoever
          // sends it, or the owner's link would verify a stranger's password. An unverified owner gets the link
          // again (what they most likely wanted), a verified one a sign-in reminder; both throttled per address.
          if (!owner.emailVerified) {
            // Bound to this repeat: it proves the mailbox, not the account's first credentials (see verifyEmail).
            await resendVerification(owner, 'REPEAT_REGISTRATION');
          } else if (await mailThrottle.allow('registration-notice', owner.email)) {
            await mailer.send({
              to: owner.email,
              template: 'welcome',
              userId: owner.id,
              data: {
                ...(owner.displayName ? { name: owner.displayName } : {}),
                signInUrl: `${publicUrl}/login`,
              },
            });
          }
          await audit.record({
            action: AuditAction.USER_REGISTERED,
            outcome: 'FAILURE',
            targetType: 'User',
            targetId: owner.id,
            ip: client.ip,
            userAgent: client.userAgent,
            requestId: client.requestId,
            metadata: { reason: 'EMAIL_TAKEN' },
          });
        }
        return { accepted: true, fieldErrors: [] };
      });
    },

    async verifyEmail(token, client) {
      if (!TOKEN_FORMAT.test(token)) {
        throw tokenError(IdentityErrorCode.VERIFICATION_TOKEN_INVALID, 'The verification link is not valid');
      }
      const at = now();
      const consumed = await verificationTokens.consume(hashToken(token), at);
      if (consumed.status === 'expired') {
        throw tokenError(IdentityErrorCode.VERIFICATION_TOKEN_EXPIRED, 'The verification link has expired');
      }
      if (consumed.status === 'used') {
        throw tokenError(IdentityErrorCode.VERIFICATION_TOKEN_USED, 'The verification link was already used');
      }
      const account = consumed.status === 'consumed' ? await accounts.findById(consumed.userId) : null;
      // The address changed since the link was sent: the link proves nothing about the current one.
      if (!account || consumed.status !== 'consumed' || account.email !== consumed.email) {
        throw tokenError(IdentityErrorCode.VERIFICATION_TOKEN_INVALID, 'The verification link is not valid');
      }
      // A link mailed for a repeat registration proves the mailbox only: a provider link made before (an account
      // a provider sign-up created with an unproved address) is not the clicker's, and must not survive.
      await accounts.markEmailVerified(account.id, at, {
        dropProviderLinks: consumed.purpose === 'REPEAT_REGISTRATION',
      });
      await audit.record({
        action: AuditAction.EMAIL_VERIFIED,
        outcome: 'SUCCESS',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ip: client.ip,
        userAgent: client.userAgent,
        requestId: client.requestId,
      });
      if (!account.emailVerified) {
        await mailer.send({
          to: account.email,
          template: 'welcome',
          userId: account.id,
          idempotencyKey: `welcome:${account.id}`,
          data: {
            ...(account.displayName ? { name: account.displayName } : {}),
            signInUrl: `${publicUrl}/login`,
          },
        });
      }
      const [user] = await users.findByIds([account.id]);
      if (!user)
        throw tokenError(IdentityErrorCode.VERIFICATION_TOKEN_INVALID, 'The verification link is not valid');
      return user;
    },

    async resendVerificationEmail(email) {
      await atLeast(minDuration, async () => {
        const parsed = emailSchema.safeParse(email);
        if (!parsed.success) return;
        const account = await accounts.findByEmail(parsed.data);
        if (!account || account.emailVerified) return;
        await resendVerification(account, 'SIGN_UP');
      });
    },
  };
}
