import type { Mailer } from '@gatehouse/mail';
import { AuditAction, type AuditLog } from '../audit';
import type { FailureOutcome, LoginGuard, PasswordAttempt } from './login-guard';
import type { AccountRecord } from '../users';
import type { ClientInfo } from '../client-info';

/**
 * The request facts every audit row of this subgraph carries, the impersonating administrator included: an action
 * done with an impersonation token is audited as the user's, with the administrator beside it.
 */
export const auditClientFields = (client: ClientInfo) => ({
  ip: client.ip,
  userAgent: client.userAgent,
  requestId: client.requestId,
  impersonatorUserId: client.impersonatorUserId ?? null,
});

export interface WrongPasswordDependencies {
  guard: LoginGuard;
  audit: AuditLog;
  mailer: Pick<Mailer, 'send'>;
}

/**
 * Counts a wrong password toward lockout, wherever it was typed (sign-in, or the current password of a password
 * change: an access token must not allow unlimited guesses). The failure that locks the account is audited and
 * mailed to the owner, exactly once per lock. `attempt`: the one reserved before the password was verified
 * (`guard.reservePasswordAttempt`), which is then already counted.
 */
export async function recordWrongPassword(
  { guard, audit, mailer }: WrongPasswordDependencies,
  account: Pick<AccountRecord, 'id' | 'email' | 'displayName'>,
  client: ClientInfo,
  attempt?: PasswordAttempt,
): Promise<void> {
  const outcome = await guard.recordFailure(account.id, attempt);
  await reportLock({ audit, mailer }, account, client, outcome, 'WRONG_PASSWORD');
}

/** What set a lock (the `cause` of its ACCOUNT_LOCKED audit row). */
export type LockCause = 'WRONG_PASSWORD' | 'WRONG_MFA_CODE';

/**
 * Tells of the lock a failure set, if it set one: the ACCOUNT_LOCKED audit row and the account-locked mail to the
 * owner, the same whether wrong passwords or wrong second-factor codes reached the limit (once per lock: only
 * the failure that set it has `locked: true`).
 */
export async function reportLock(
  { audit, mailer }: Pick<WrongPasswordDependencies, 'audit' | 'mailer'>,
  account: Pick<AccountRecord, 'id' | 'email' | 'displayName'>,
  client: ClientInfo,
  outcome: FailureOutcome,
  cause: LockCause,
): Promise<void> {
  if (!outcome.locked || !outcome.lockedUntil) return;
  await audit.record({
    action: AuditAction.ACCOUNT_LOCKED,
    outcome: 'SUCCESS',
    targetType: 'User',
    targetId: account.id,
    ...auditClientFields(client),
    metadata: { lockedUntil: outcome.lockedUntil.toISOString(), failures: outcome.failures, cause },
  });
  await mailer.send({
    to: account.email,
    template: 'account-locked',
    userId: account.id,
    data: {
      ...(account.displayName ? { name: account.displayName } : {}),
      lockedUntil: outcome.lockedUntil,
    },
  });
}
