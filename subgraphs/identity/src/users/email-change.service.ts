import { generateToken, hashToken } from '@gatehouse/crypto';
import { AppError, ErrorCode } from '@gatehouse/errors';
import type { Mailer } from '@gatehouse/mail';
import type { Viewer } from '@gatehouse/service';
import { AuditAction, type AuditLog } from '../audit';
import { auditClientFields, emailSchema, type CurrentPasswordCheck } from '../credentials';
import { IdentityErrorCode } from '../error-codes';
import { UserErrorCode } from './error-codes';
import type { UserModel } from '../models';
import type { AccountRepository } from './account.repository';
import type { UserRepository } from './user.repository';
import type { VerificationTokenRepository } from '../registration';
import type { ClientInfo } from '../client-info';

/** Confirmation links for a new address live as long as verification links. */
export const EMAIL_CHANGE_TTL_HOURS = 24;
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export interface EmailChangeService {
  /**
   * Password first; then, when the new address is free, a confirmation link to it and a notice to the current one.
   * Answers the same whether or not the address is free.
   * @throws BAD_USER_INPUT: INVALID_CREDENTIALS (wrong password, counted toward the lockout), EMAIL_INVALID,
   * EMAIL_UNCHANGED.
   */
  request(viewer: Viewer, input: { newEmail: string; password: string }, client: ClientInfo): Promise<void>;
  /** @throws BAD_USER_INPUT: VERIFICATION_TOKEN_INVALID / _EXPIRED / _USED, EMAIL_TAKEN. */
  confirm(token: string, client: ClientInfo): Promise<UserModel>;
}

export interface EmailChangeServiceOptions {
  accounts: AccountRepository;
  users: UserRepository;
  verificationTokens: VerificationTokenRepository;
  checkPassword: CurrentPasswordCheck;
  mailer: Pick<Mailer, 'send'>;
  audit: AuditLog;
  /** Base of links in mail (PUBLIC_URL). */
  publicUrl: string;
  now?: () => Date;
}

function badInput(reason: string, message: string): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, message, { details: { reason } });
}

/**
 * Changing the sign-in address. The new address must be proved before anything changes (a link to it, single use,
 * stored hashed in `verification_tokens` with the new address), the old address is told twice (when the change is
 * asked for, so an attacker with a session cannot do it silently, and when it happened), and the switch itself is
 * decided by the unique index, so an address that got an account in the meantime is never shared.
 */
export function createEmailChangeService(options: EmailChangeServiceOptions): EmailChangeService {
  const { accounts, users, verificationTokens, checkPassword, mailer, audit, publicUrl } = options;
  const now = options.now ?? (() => new Date());
  const nameOf = (account: { displayName: string | null }) =>
    account.displayName ? { name: account.displayName } : {};

  return {
    async request(viewer, input, client) {
      const account = await accounts.findById(viewer.userId);
      if (!account) throw badInput(UserErrorCode.USER_NOT_ACCESSIBLE, 'The account no longer exists');
      await checkPassword(account, input.password, client, AuditAction.EMAIL_CHANGE_REQUESTED);
      const parsed = emailSchema.safeParse(input.newEmail);
      if (!parsed.success) throw badInput('EMAIL_INVALID', 'Enter a valid email address');
      const newEmail = parsed.data;
      if (newEmail === account.email) {
        throw badInput('EMAIL_UNCHANGED', 'This is already the address of the account');
      }

      const taken = (await accounts.findByEmail(newEmail)) !== null;
      await audit.record({
        action: AuditAction.EMAIL_CHANGE_REQUESTED,
        outcome: 'SUCCESS',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ...auditClientFields(client),
        metadata: { addressTaken: taken },
      });
      // A taken address gets nothing: its owner did not ask, and the requester must not learn it is taken.
      if (taken) return;

      const token = generateToken(32);
      const at = now();
      await verificationTokens.replaceForUser({
        userId: account.id,
        email: newEmail,
        tokenHash: hashToken(token),
        expiresAt: new Date(at.getTime() + EMAIL_CHANGE_TTL_HOURS * 3600_000),
      });
      await mailer.send({
        to: newEmail,
        template: 'email-change-confirm',
        userId: account.id,
        data: {
          ...nameOf(account),
          confirmUrl: `${publicUrl}/confirm-email-change?token=${encodeURIComponent(token)}`,
          expiresInHours: EMAIL_CHANGE_TTL_HOURS,
        },
      });
      await mailer.send({
        to: account.email,
        template: 'email-change-requested',
        userId: account.id,
        data: { ...nameOf(account), newEmail, at },
      });
    },

    async confirm(token, client) {
      if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) {
        throw badInput(IdentityErrorCode.VERIFICATION_TOKEN_INVALID, 'The confirmation link is not valid');
      }
      const at = now();
      const consumed = await verificationTokens.consume(hashToken(token), at);
      if (consumed.status === 'expired') {
        throw badInput(IdentityErrorCode.VERIFICATION_TOKEN_EXPIRED, 'The confirmation link has expired');
      }
      if (consumed.status === 'used') {
        throw badInput(IdentityErrorCode.VERIFICATION_TOKEN_USED, 'The confirmation link was already used');
      }
      const account = consumed.status === 'consumed' ? await accounts.findById(consumed.userId) : null;
      // A verification link of the current address is not an address change.
      if (!account || consumed.status !== 'consumed' || consumed.email === account.email) {
        throw badInput(IdentityErrorCode.VERIFICATION_TOKEN_INVALID, 'The confirmation link is not valid');
      }
      const oldEmail = account.email;
      if ((await accounts.changeEmail(account.id, consumed.email, at)) === 'taken') {
        throw badInput('EMAIL_TAKEN', 'This address now belongs to another account');
      }
      await audit.record({
        action: AuditAction.EMAIL_CHANGED,
        outcome: 'SUCCESS',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ...auditClientFields(client),
        metadata: {},
      });
      await mailer.send({
        to: oldEmail,
        template: 'email-changed',
        userId: account.id,
        data: { ...nameOf(account), newEmail: consumed.email, at },
      });
      const [user] = await users.findByIds([account.id]);
      if (!user)
        throw badInput(IdentityErrorCode.VERIFICATION_TOKEN_INVALID, 'The confirmation link is not valid');
      return user;
    },
  };
}
