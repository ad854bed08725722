import type { ExportedUserRow } from './identity-data.repository';
import { iso } from './user-data.format';
import {
  USER_EXPORT_FORMAT,
  type AccountDataSection,
  type BillingDataSection,
  type IdentityDataSection,
  type PlatformDataSection,
  type UserDataDocument,
} from './user-data.types';

/**
 * The GDPR export reader: one of the sanctioned multi-table readers (`docs/architecture.md`), since a copy of
 * everything the platform holds about a user must read every subgraph's tables. The document is described in
 * `user-data.types.ts`; the reads are split by table group into `*-data.repository.ts` (identity, account,
 * billing, the shared tables), each with an allow-list `select` per table, and composed into this port by
 * `user-data.repository.ts`.
 */
export interface UserDataExportReader {
  /** The `users` row the export starts from, or null when there is no such user (then nothing else is read). */
  findUser(userId: string): Promise<ExportedUserRow | null>;
  /** The identity tables: account, profile, sessions, linked providers, factors, tokens, password history. */
  readIdentityData(userId: string, user: ExportedUserRow): Promise<IdentityDataSection>;
  /** The account tables: notification preferences, unsubscribe receipts, data exports. */
  readAccountData(userId: string): Promise<AccountDataSection>;
  /** The billing tables. */
  readBillingData(userId: string): Promise<BillingDataSection>;
  /** The shared tables: roles, mail deliveries, audit log. */
  readPlatformData(userId: string): Promise<PlatformDataSection>;
}

/**
 * Reads everything the platform holds about `userId` into a {@link UserDataDocument}, or null when there is no
 * such user. A pure read: nothing is written. The reads are separate statements, not one snapshot; a row
 * written meanwhile may or may not appear, which is fine for a copy the user asked for at "about now".
 */
export async function gatherUserData(
  reader: UserDataExportReader,
  userId: string,
  options: { now?: Date } = {},
): Promise<UserDataDocument | null> {
  const user = await reader.findUser(userId);
  if (!user) return null;

  const [identity, account, billing, shared] = await Promise.all([
    reader.readIdentityData(userId, user),
    reader.readAccountData(userId),
    reader.readBillingData(userId),
    reader.readPlatformData(userId),
  ]);

  // Spelled out, in the document's order: the JSON keeps the same key order as before the split.
  return {
    format: USER_EXPORT_FORMAT,
    generatedAt: iso(options.now ?? new Date()),
    account: identity.account,
    profile: identity.profile,
    notificationPreferences: account.notificationPreferences,
    unsubscribeReceipts: account.unsubscribeReceipts,
    sessions: identity.sessions,
    oauthAccounts: identity.oauthAccounts,
    mfaFactors: identity.mfaFactors,
    backupCodes: identity.backupCodes,
    emailVerifications: identity.emailVerifications,
    passwordResets: identity.passwordResets,
    passwordHistory: identity.passwordHistory,
    roles: shared.roles,
    subscriptions: billing.subscriptions,
    usageRecords: billing.usageRecords,
    invoices: billing.invoices,
    payments: billing.payments,
    paymentMethods: billing.paymentMethods,
    billingCustomer: billing.billingCustomer,
    apiKeys: billing.apiKeys,
    webhookEndpoints: billing.webhookEndpoints,
    emailDeliveries: shared.emailDeliveries,
    auditLog: shared.auditLog,
    dataExports: account.dataExports,
  };
}
