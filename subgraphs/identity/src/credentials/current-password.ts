import type { PasswordHasher } from '@gatehouse/crypto';
import { AppError, ErrorCode } from '@gatehouse/errors';
import type { Mailer } from '@gatehouse/mail';
import type { AuditAction, AuditLog } from '../audit';
import { CredentialErrorCode } from './error-codes';
import type { LoginGuard } from './login-guard';
import { PASSWORD_ABSOLUTE_MAX_LENGTH } from './validation';
import type { AccountRecord, AccountRepository } from '../users';
import type { ClientInfo } from '../client-info';
import { auditClientFields, recordWrongPassword } from './wrong-password';

export interface CurrentPasswordCheckOptions {
  accounts: Pick<AccountRepository, 'updatePasswordHash'>;
  hasher: PasswordHasher;
  guard: LoginGuard;
  audit: AuditLog;
  mailer: Pick<Mailer, 'send'>;
}

/**
 * Re-authentication of a signed-in user before a sensitive change (deactivate, delete, change the email address):
 * the current password must be right. A wrong one counts toward the lockout exactly like a wrong sign-in (an
 * access token must not allow unlimited guesses), is audited under the change's action with outcome FAILURE and
 * answers BAD_USER_INPUT `INVALID_CREDENTIALS`. A locked account is refused the same way without counting.
 */
export type CurrentPasswordCheck = (
  account: AccountRecord,
  password: string,
  client: ClientInfo,
  action: AuditAction,
) => Promise<void>;

export function wrongCurrentPassword(): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, 'The password is not correct', {
    details: { reason: CredentialErrorCode.INVALID_CREDENTIALS },
  });
}

export function createCurrentPasswordCheck(options: CurrentPasswordCheckOptions): CurrentPasswordCheck {
  const { accounts, hasher, guard, audit, mailer } = options;
  return async (account, password, client, action) => {
    const refuse = async (reason: string) => {
      await audit.record({
        action,
        outcome: 'FAILURE',
        actorUserId: account.id,
        targetType: 'User',
        targetId: account.id,
        ...auditClientFields(client),
        metadata: { reason },
      });
      return wrongCurrentPassword();
    };
    if (!account.passwordHash) throw await refuse('PASSWORD_NOT_SET');
    if (
      typeof password !== 'string' ||
      password.length === 0 ||
      password.length > PASSWORD_ABSOLUTE_MAX_LENGTH
    ) {
      throw await refuse('MALFORMED_INPUT');
    }
    // Counted before the password is verified, so parallel guesses cannot outrun the limit; none while locked.
    const attempt = await guard.reservePasswordAttempt(account.id);
    if (!attempt) throw await refuse(CredentialErrorCode.ACCOUNT_LOCKED);
    if (!(await hasher.verify(account.passwordHash, password))) {
      await recordWrongPassword({ guard, audit, mailer }, account, client, attempt);
      throw await refuse('WRONG_PASSWORD');
    }
    if (hasher.needsRehash(account.passwordHash)) {
      await accounts.updatePasswordHash(account.id, await hasher.hash(password));
    }
    await guard.recordSuccess(account.id);
  };
}
