/** Backup codes: what follows a sign-in with one, and replacing them all. */
import { AuditAction } from '../audit';
import type { AccountRecord } from '../users';
import type { ClientInfo } from '../client-info';
import { generateBackupCodes, hashBackupCode, normalizeBackupCode } from './backup-codes';
import { mfaNotEnabled } from './errors';
import { BACKUP_CODES_LOW_THRESHOLD, MfaEventTopic } from './mfa.constants';
import type { MfaService } from './mfa.service';
import type { MfaToolkit } from './mfa-toolkit';

export interface BackupCodeSteps extends Pick<MfaService, 'regenerateBackupCodes'> {
  afterBackupCodeUsed(
    account: AccountRecord,
    used: { id: string; remaining: number },
    client: ClientInfo,
  ): Promise<void>;
}

export function createBackupCodeSteps(toolkit: MfaToolkit): BackupCodeSteps {
  const {
    mailer,
    repository,
    requireAccount,
    record,
    publish,
    securityEvent,
    mailBestEffort,
    nameOf,
    link,
    checkPassword,
  } = toolkit;

  /** After a backup code was used: audit, event, and a warning mail when few are left (once per code used). */
  async function afterBackupCodeUsed(
    account: AccountRecord,
    used: { id: string; remaining: number },
    client: ClientInfo,
  ): Promise<void> {
    await record(AuditAction.BACKUP_CODE_USED, 'SUCCESS', account.id, client, { remaining: used.remaining });
    await publish(
      MfaEventTopic.BACKUP_CODE_USED,
      securityEvent(account.id, 'BACKUP_CODE', client, { backupCodesRemaining: used.remaining }),
    );
    if (used.remaining > BACKUP_CODES_LOW_THRESHOLD) return;
    const manageUrl = link('/account/security');
    await mailBestEffort(
      () =>
        mailer.send({
          to: account.email,
          template: 'backup-codes-low',
          userId: account.id,
          // One warning per code used, even when the caller retries.
          idempotencyKey: `backup-codes-low:${used.id}`,
          data: { ...nameOf(account), remaining: used.remaining, ...(manageUrl ? { manageUrl } : {}) },
        }),
      'backup-codes-low',
      account.id,
    );
  }

  return {
    afterBackupCodeUsed,
    async regenerateBackupCodes(userId, password, client) {
      const account = await requireAccount(userId);
      const state = await repository.state(userId);
      if (!state.mfaEnabled) throw mfaNotEnabled();
      await checkPassword(account, password, client, AuditAction.BACKUP_CODES_REGENERATED);
      const backupCodes = generateBackupCodes();
      const replaced = await repository.replaceBackupCodes(
        userId,
        backupCodes.map((code) => hashBackupCode(userId, normalizeBackupCode(code)!)),
      );
      if (!replaced) throw mfaNotEnabled();
      await record(AuditAction.BACKUP_CODES_REGENERATED, 'SUCCESS', userId, client, {
        count: backupCodes.length,
      });
      await publish(MfaEventTopic.BACKUP_CODES_REGENERATED, securityEvent(userId, 'BACKUP_CODE', client));
      return backupCodes;
    },
  };
}
