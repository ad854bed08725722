import type { Mailer } from '@gatehouse/mail';
import { AuditAction, type AuditLog } from '../audit';
import type { LoginGuard } from '../credentials';
import type { AccountRecord } from '../repositories/account.repository';
import type { ClientInfo } from './client-info';

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
 * mailed to the owner, exactly once per lock.
 */
export async function recordWrongPassword(
  { guard, audit, mailer }: WrongPasswordDependencies,
  account: Pick<AccountRecord, 'id' | 'email' | 'displayName'>,
  client: ClientInfo,
): Promise<void> {
  const outcome = await guard.recordFailure(account.id);
  if (!outcome.locked || !outcome.lockedUntil) return;
  await audit.record({
    action: AuditAction.ACCOUNT_LOCKED,
    outcome: 'SUCCESS',
    targetType: 'User',
    targetId: account.id,
    ...auditClientFields(client),
    metadata: { lockedUntil: outcome.lockedUntil.toISOString(), failures: outcome.failures },
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
