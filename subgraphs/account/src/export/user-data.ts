import type { PrismaClient } from '@gatehouse/db';

/**
 * The GDPR export document (art. 15 access, art. 20 portability): everything the platform holds about one user,
 * as one JSON object. Times are ISO 8601 strings in UTC, missing values are `null`, lists are oldest first.
 *
 * Every table is read with an explicit `select` (an allow-list), so a column added later, secret or not, only
 * appears here once someone adds it on purpose. Never exported: password hashes, refresh-token and one-time
 * token hashes, backup-code hashes, encrypted OAuth tokens and TOTP secrets, encrypted mail payloads, provider
 * idempotency keys and internal storage keys. Data about other people is left out too: who granted a role, and
 * the id, IP address and user agent of anyone else who acted on the account (their entries say `actor: 'other'`).
 *
 * Adding a field is backwards compatible; renaming or removing one needs a new `format` version.
 */
export interface UserDataDocument {
  /** Identifies the layout of this document. */
  format: typeof USER_EXPORT_FORMAT;
  /** When the document was put together. */
  generatedAt: string;
  account: ExportedAccount;
  /** The public profile, or null when none was set up. */
  profile: ExportedProfile | null;
  /** Explicit notification choices; categories without a row use their defaults. */
  notificationPreferences: ExportedNotificationPreference[];
  /** One-click unsubscribe links the user followed. */
  unsubscribeReceipts: ExportedUnsubscribeReceipt[];
  /** Every sign-in session (one row per refresh token, including rotated and revoked ones). */
  sessions: ExportedSession[];
  /** Linked sign-in providers (Google, GitHub, ...). */
  oauthAccounts: ExportedOAuthAccount[];
  /** Second factors. */
  mfaFactors: ExportedMfaFactor[];
  /** How many backup codes exist and how many are unused (never the codes or their hashes). */
  backupCodes: { total: number; unused: number };
  /** E-mail verification links sent (the address each verified, e.g. a pending e-mail change). */
  emailVerifications: ExportedEmailVerification[];
  /** Password reset links requested. */
  passwordResets: ExportedPasswordReset[];
  /** When the password was changed before (the old hashes themselves are not exported). */
  passwordHistory: { changedAt: string }[];
  /** Roles granted to the user. */
  roles: ExportedRole[];
  subscriptions: ExportedSubscription[];
  /** Metered usage of the user's subscriptions. */
  usageRecords: ExportedUsageRecord[];
  invoices: ExportedInvoice[];
  payments: ExportedPayment[];
  /** Cards and other payment methods, as much as we hold of them (never full numbers, which we never store). */
  paymentMethods: ExportedPaymentMethod[];
  /** The user as a customer of the payment provider: the credit balance owed to them and the billing country. */
  billingCustomer: ExportedBillingCustomer | null;
  /** API keys for the REST API: names and public prefixes (never the secrets, of which we keep only hashes). */
  apiKeys: ExportedApiKey[];
  /** Webhook endpoints the user registered (never the signing secrets). */
  webhookEndpoints: ExportedWebhookEndpoint[];
  /** E-mails sent to the user: envelope and status only (contents are not kept after sending). */
  emailDeliveries: ExportedEmailDelivery[];
  /** Audit entries the user made, or made by someone else about the user's account. */
  auditLog: ExportedAuditEntry[];
  /** Earlier export requests, and this one. */
  dataExports: ExportedDataExport[];
}

/** Version tag of {@link UserDataDocument}. */
export const USER_EXPORT_FORMAT = 'gatehouse.user-export.v1';

/** `users` row. */
export interface ExportedAccount {
  id: string;
  /** Sign-in and contact address. */
  email: string;
  /** PENDING_VERIFICATION, ACTIVE, SUSPENDED, DEACTIVATED or DELETED. */
  status: string;
  emailVerified: boolean;
  emailVerifiedAt: string | null;
  /** Whether a password is set (false for accounts that only sign in through a provider). */
  hasPassword: boolean;
  passwordChangedAt: string | null;
  mfaEnabled: boolean;
  mfaEnabledAt: string | null;
  /** Failed sign-ins since the last successful one. */
  failedLoginCount: number;
  lastFailedLoginAt: string | null;
  /** Sign-in is locked until then after failed attempts. */
  lockedUntil: string | null;
  lastLoginAt: string | null;
  /** When deletion was requested. */
  deletedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** `user_profiles` row. */
export interface ExportedProfile {
  displayName: string | null;
  bio: string | null;
  /** E.164 number shown on the profile. */
  phone: string | null;
  /** BCP 47 language tag. */
  locale: string | null;
  /** IANA time zone. */
  timezone: string | null;
  avatarUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

/** `notification_preferences` row. */
export interface ExportedNotificationPreference {
  /** EMAIL, SMS, IN_APP or PUSH. */
  channel: string;
  /** e.g. `security`, `billing`, `product`. */
  category: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** `unsubscribe_receipts` row. */
export interface ExportedUnsubscribeReceipt {
  channel: string;
  category: string;
  usedAt: string;
}

/** `sessions` row, without its refresh-token hash. */
export interface ExportedSession {
  id: string;
  deviceName: string | null;
  /** e.g. `mobile`, `desktop`. */
  deviceType: string | null;
  os: string | null;
  browser: string | null;
  userAgent: string | null;
  ipAddress: string | null;
  /** ISO 3166-1 alpha-2 country code from IP geolocation. */
  country: string | null;
  city: string | null;
  createdAt: string;
  lastActivityAt: string;
  expiresAt: string;
  revokedAt: string | null;
  /** Why the session ended, e.g. LOGOUT, ROTATED. */
  revokeReason: string | null;
}

/** `oauth_accounts` row, without tokens. */
export interface ExportedOAuthAccount {
  /** `google`, `github`, `facebook` or `oidc-<name>`. */
  provider: string;
  /** The user's id at the provider. */
  providerAccountId: string;
  email: string | null;
  emailVerified: boolean;
  /** Permissions granted to us at the provider. */
  scope: string | null;
  linkedAt: string;
  updatedAt: string;
}

/** `mfa_factors` row, without its secret. */
export interface ExportedMfaFactor {
  /** TOTP, SMS or EMAIL. */
  type: string;
  label: string | null;
  /** Masked phone number (`+*******4567`) or e-mail (`a***@example.com`); null for TOTP. */
  destination: string | null;
  verifiedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}

/** `verification_tokens` row, without the token hash. */
export interface ExportedEmailVerification {
  /** The address the link verified. */
  email: string;
  requestedAt: string;
  expiresAt: string;
  consumedAt: string | null;
}

/** `password_reset_tokens` row, without the token hash. */
export interface ExportedPasswordReset {
  requestedAt: string;
  /** The IP address the reset was requested from. */
  requestedIp: string | null;
  expiresAt: string;
  consumedAt: string | null;
}

/** `user_roles` row joined with its role. */
export interface ExportedRole {
  name: string;
  /** `*` everywhere, or a scope such as `org:<id>`. */
  scope: string;
  grantedAt: string;
  expiresAt: string | null;
}

/** `subscriptions` row joined with its plan. */
export interface ExportedSubscription {
  id: string;
  plan: { code: string; name: string };
  status: string;
  trialEndsAt: string | null;
  currentPeriodStart: string;
  currentPeriodEnd: string;
  cancelAtPeriodEnd: boolean;
  canceledAt: string | null;
  endedAt: string | null;
  createdAt: string;
}

/** `usage_records` row. */
export interface ExportedUsageRecord {
  subscriptionId: string;
  metric: string;
  /** A decimal string: the column is a 64-bit integer, which JSON numbers cannot always hold. */
  quantity: string;
  periodStart: string;
  recordedAt: string;
}

/** `invoices` row. Amounts are integers in minor units (cents) of `currency`. */
export interface ExportedInvoice {
  id: string;
  number: string;
  subscriptionId: string | null;
  status: string;
  currency: string;
  subtotalAmount: number;
  taxAmount: number;
  totalAmount: number;
  amountPaid: number;
  amountDue: number;
  periodStart: string | null;
  periodEnd: string | null;
  dueAt: string | null;
  paidAt: string | null;
  createdAt: string;
  billingReason: string;
  /** Basis points (2000 = 20 %). */
  taxRateBps: number;
  creditApplied: number;
  lines: ExportedInvoiceLine[];
}

/** One line of an invoice; amounts in minor units of the invoice's currency. */
export interface ExportedInvoiceLine {
  kind: string;
  description: string;
  quantity: number;
  unitAmount: number;
  amount: number;
  periodStart: string | null;
  periodEnd: string | null;
}

/** `billing_customers` row. */
export interface ExportedBillingCustomer {
  provider: string;
  providerCustomerId: string;
  creditBalance: number;
  currency: string | null;
  country: string | null;
  createdAt: string;
}

/** `api_keys` row without the secret's hash. */
export interface ExportedApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

/** `webhook_endpoints` row without the signing secret. */
export interface ExportedWebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  active: boolean;
  createdAt: string;
}

/** `payments` row. `amount` is in minor units of `currency`. */
export interface ExportedPayment {
  id: string;
  invoiceId: string | null;
  paymentMethodId: string | null;
  amount: number;
  currency: string;
  status: string;
  attemptCount: number;
  failureCode: string | null;
  failureReason: string | null;
  succeededAt: string | null;
  createdAt: string;
}

/** `payment_methods` row, without the provider's token id. */
export interface ExportedPaymentMethod {
  id: string;
  provider: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
  isDefault: boolean;
  createdAt: string;
}

/** `email_deliveries` row, without the (encrypted) template data. */
export interface ExportedEmailDelivery {
  /** Which mail, e.g. `verify-email`. */
  template: string;
  recipient: string;
  subject: string;
  /** QUEUED, SENT, FAILED or SUPPRESSED. */
  status: string;
  createdAt: string;
  sentAt: string | null;
}

/** `audit_logs` row. */
export interface ExportedAuditEntry {
  id: string;
  at: string;
  /** e.g. `LOGIN_SUCCEEDED`. */
  action: string;
  /** `self`: the user did it; `other`: someone else (an administrator) did it to the account; `system`: no one. */
  actor: 'self' | 'other' | 'system';
  targetType: string | null;
  targetId: string | null;
  /** Only for the user's own actions: an administrator's address is not the user's data. */
  ipAddress: string | null;
  /** Only for the user's own actions. */
  userAgent: string | null;
  /** Facts recorded with the action (secret-looking keys were dropped when it was written). */
  metadata: unknown;
}

/** `data_exports` row. */
export interface ExportedDataExport {
  id: string;
  status: string;
  requestedAt: string;
  completedAt: string | null;
  expiresAt: string | null;
  sizeBytes: number | null;
}

const iso = (date: Date): string => date.toISOString();
const isoOrNull = (date: Date | null): string | null => (date === null ? null : date.toISOString());

/** `+15558674567` -> `+*******4567` (same rule as the identity subgraph's MFA screens). */
export function maskPhoneNumber(phoneNumber: string): string {
  const digits = phoneNumber.replace(/^\+/, '');
  const shown = digits.slice(-4);
  return `+${'*'.repeat(Math.max(digits.length - shown.length, 0))}${shown}`;
}

/** `alice@example.com` -> `a***@example.com`. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}

/**
 * Reads everything the platform holds about `userId` into a {@link UserDataDocument}, or null when there is no
 * such user. A pure read: nothing is written. The reads are separate statements, not one snapshot; a row
 * written meanwhile may or may not appear, which is fine for a copy the user asked for at "about now".
 */
export async function gatherUserData(
  prisma: PrismaClient,
  userId: string,
  options: { now?: Date } = {},
): Promise<UserDataDocument | null> {
  const user = await prisma.user.findUnique({
    where: { id: userId },
    select: {
      id: true,
      email: true,
      status: true,
      emailVerified: true,
      emailVerifiedAt: true,
      passwordChangedAt: true,
      mfaEnabled: true,
      mfaEnabledAt: true,
      failedLoginCount: true,
      lastFailedLoginAt: true,
      lockedUntil: true,
      lastLoginAt: true,
      deletedAt: true,
      createdAt: true,
      updatedAt: true,
    },
  });
  if (!user) return null;
  const byUser = { where: { userId } } as const;

  const [
    passwordSet,
    profile,
    preferences,
    receipts,
    sessions,
    oauthAccounts,
    factors,
    backupCodes,
    verifications,
    resets,
    passwordHistory,
    roles,
    subscriptions,
    usageRecords,
    invoices,
    payments,
    paymentMethods,
    billingCustomer,
    apiKeys,
    webhookEndpoints,
    deliveries,
    audit,
    exports,
  ] = await Promise.all([
    // Only whether a hash exists: the hash itself never leaves the database.
    prisma.user.count({ where: { id: userId, passwordHash: { not: null } } }),
    prisma.userProfile.findUnique({
      where: { userId },
      select: {
        displayName: true,
        bio: true,
        phone: true,
        locale: true,
        timezone: true,
        avatarUrl: true,
        createdAt: true,
        updatedAt: true,
      },
    }),
    prisma.notificationPreference.findMany({
      ...byUser,
      select: { channel: true, category: true, enabled: true, createdAt: true, updatedAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.unsubscribeReceipt.findMany({
      ...byUser,
      select: { channel: true, category: true, usedAt: true },
      orderBy: [{ usedAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.session.findMany({
      ...byUser,
      select: {
        id: true,
        deviceName: true,
        deviceType: true,
        os: true,
        browser: true,
        userAgent: true,
        ipAddress: true,
        country: true,
        city: true,
        createdAt: true,
        lastActivityAt: true,
        expiresAt: true,
        revokedAt: true,
        revokeReason: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.oAuthAccount.findMany({
      ...byUser,
      select: {
        provider: true,
        providerAccountId: true,
        email: true,
        emailVerified: true,
        scope: true,
        createdAt: true,
        updatedAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.mfaFactor.findMany({
      ...byUser,
      select: {
        type: true,
        label: true,
        phoneNumber: true,
        email: true,
        verifiedAt: true,
        lastUsedAt: true,
        createdAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.backupCode.findMany({ ...byUser, select: { usedAt: true } }),
    prisma.verificationToken.findMany({
      ...byUser,
      select: { email: true, createdAt: true, expiresAt: true, consumedAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.passwordResetToken.findMany({
      ...byUser,
      select: { requestedIp: true, createdAt: true, expiresAt: true, consumedAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.passwordHistory.findMany({
      ...byUser,
      select: { createdAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.userRole.findMany({
      ...byUser,
      select: { scope: true, createdAt: true, expiresAt: true, role: { select: { name: true } } },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.subscription.findMany({
      ...byUser,
      select: {
        id: true,
        status: true,
        trialEndsAt: true,
        currentPeriodStart: true,
        currentPeriodEnd: true,
        cancelAtPeriodEnd: true,
        canceledAt: true,
        endedAt: true,
        createdAt: true,
        plan: { select: { code: true, name: true } },
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.usageRecord.findMany({
      where: { subscription: { userId } },
      select: { subscriptionId: true, metric: true, quantity: true, periodStart: true, recordedAt: true },
      orderBy: [{ recordedAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.invoice.findMany({
      ...byUser,
      select: {
        id: true,
        number: true,
        subscriptionId: true,
        status: true,
        currency: true,
        subtotalAmount: true,
        taxAmount: true,
        totalAmount: true,
        amountPaid: true,
        amountDue: true,
        periodStart: true,
        periodEnd: true,
        dueAt: true,
        paidAt: true,
        createdAt: true,
        billingReason: true,
        taxRateBps: true,
        creditApplied: true,
        lineItems: {
          select: {
            kind: true,
            description: true,
            quantity: true,
            unitAmount: true,
            amount: true,
            periodStart: true,
            periodEnd: true,
          },
          orderBy: [{ position: 'asc' }, { id: 'asc' }],
        },
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.payment.findMany({
      ...byUser,
      select: {
        id: true,
        invoiceId: true,
        paymentMethodId: true,
        amount: true,
        currency: true,
        status: true,
        attemptCount: true,
        failureCode: true,
        failureReason: true,
        succeededAt: true,
        createdAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.paymentMethod.findMany({
      ...byUser,
      select: {
        id: true,
        provider: true,
        brand: true,
        last4: true,
        expMonth: true,
        expYear: true,
        isDefault: true,
        createdAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.billingCustomer.findUnique({
      where: { userId },
      select: {
        provider: true,
        providerCustomerId: true,
        creditBalance: true,
        currency: true,
        country: true,
        createdAt: true,
      },
    }),
    prisma.apiKey.findMany({
      ...byUser,
      select: {
        id: true,
        name: true,
        prefix: true,
        scopes: true,
        lastUsedAt: true,
        expiresAt: true,
        revokedAt: true,
        createdAt: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.webhookEndpoint.findMany({
      ...byUser,
      select: { id: true, url: true, description: true, eventTypes: true, active: true, createdAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.emailDelivery.findMany({
      ...byUser,
      select: { template: true, recipient: true, subject: true, status: true, createdAt: true, sentAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.auditLog.findMany({
      where: { OR: [{ actorUserId: userId }, { targetType: 'User', targetId: userId }] },
      select: {
        id: true,
        createdAt: true,
        actorUserId: true,
        action: true,
        targetType: true,
        targetId: true,
        ipAddress: true,
        userAgent: true,
        metadata: true,
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    prisma.dataExport.findMany({
      ...byUser,
      select: {
        id: true,
        status: true,
        requestedAt: true,
        completedAt: true,
        expiresAt: true,
        sizeBytes: true,
      },
      orderBy: [{ requestedAt: 'asc' }, { id: 'asc' }],
    }),
  ]);

  return {
    format: USER_EXPORT_FORMAT,
    generatedAt: iso(options.now ?? new Date()),
    account: {
      id: user.id,
      email: user.email,
      status: user.status,
      emailVerified: user.emailVerified,
      emailVerifiedAt: isoOrNull(user.emailVerifiedAt),
      hasPassword: passwordSet > 0,
      passwordChangedAt: isoOrNull(user.passwordChangedAt),
      mfaEnabled: user.mfaEnabled,
      mfaEnabledAt: isoOrNull(user.mfaEnabledAt),
      failedLoginCount: user.failedLoginCount,
      lastFailedLoginAt: isoOrNull(user.lastFailedLoginAt),
      lockedUntil: isoOrNull(user.lockedUntil),
      lastLoginAt: isoOrNull(user.lastLoginAt),
      deletedAt: isoOrNull(user.deletedAt),
      createdAt: iso(user.createdAt),
      updatedAt: iso(user.updatedAt),
    },
    profile: profile && {
      ...profile,
      createdAt: iso(profile.createdAt),
      updatedAt: iso(profile.updatedAt),
    },
    notificationPreferences: preferences.map((row) => ({
      ...row,
      createdAt: iso(row.createdAt),
      updatedAt: iso(row.updatedAt),
    })),
    unsubscribeReceipts: receipts.map((row) => ({ ...row, usedAt: iso(row.usedAt) })),
    sessions: sessions.map((row) => ({
      ...row,
      createdAt: iso(row.createdAt),
      lastActivityAt: iso(row.lastActivityAt),
      expiresAt: iso(row.expiresAt),
      revokedAt: isoOrNull(row.revokedAt),
    })),
    oauthAccounts: oauthAccounts.map(({ createdAt, updatedAt, ...row }) => ({
      ...row,
      linkedAt: iso(createdAt),
      updatedAt: iso(updatedAt),
    })),
    mfaFactors: factors.map((row) => ({
      type: row.type,
      label: row.label,
      destination: row.phoneNumber
        ? maskPhoneNumber(row.phoneNumber)
        : row.email
          ? maskEmail(row.email)
          : null,
      verifiedAt: isoOrNull(row.verifiedAt),
      lastUsedAt: isoOrNull(row.lastUsedAt),
      createdAt: iso(row.createdAt),
    })),
    backupCodes: {
      total: backupCodes.length,
      unused: backupCodes.filter((code) => code.usedAt === null).length,
    },
    emailVerifications: verifications.map((row) => ({
      email: row.email,
      requestedAt: iso(row.createdAt),
      expiresAt: iso(row.expiresAt),
      consumedAt: isoOrNull(row.consumedAt),
    })),
    passwordResets: resets.map((row) => ({
      requestedAt: iso(row.createdAt),
      requestedIp: row.requestedIp,
      expiresAt: iso(row.expiresAt),
      consumedAt: isoOrNull(row.consumedAt),
    })),
    passwordHistory: passwordHistory.map((row) => ({ changedAt: iso(row.createdAt) })),
    roles: roles.map((row) => ({
      name: row.role.name,
      scope: row.scope,
      grantedAt: iso(row.createdAt),
      expiresAt: isoOrNull(row.expiresAt),
    })),
    subscriptions: subscriptions.map((row) => ({
      id: row.id,
      plan: row.plan,
      status: row.status,
      trialEndsAt: isoOrNull(row.trialEndsAt),
      currentPeriodStart: iso(row.currentPeriodStart),
      currentPeriodEnd: iso(row.currentPeriodEnd),
      cancelAtPeriodEnd: row.cancelAtPeriodEnd,
      canceledAt: isoOrNull(row.canceledAt),
      endedAt: isoOrNull(row.endedAt),
      createdAt: iso(row.createdAt),
    })),
    usageRecords: usageRecords.map((row) => ({
      ...row,
      quantity: row.quantity.toString(),
      periodStart: iso(row.periodStart),
      recordedAt: iso(row.recordedAt),
    })),
    invoices: invoices.map(({ lineItems, ...row }) => ({
      ...row,
      periodStart: isoOrNull(row.periodStart),
      periodEnd: isoOrNull(row.periodEnd),
      dueAt: isoOrNull(row.dueAt),
      paidAt: isoOrNull(row.paidAt),
      createdAt: iso(row.createdAt),
      lines: lineItems.map((line) => ({
        ...line,
        periodStart: isoOrNull(line.periodStart),
        periodEnd: isoOrNull(line.periodEnd),
      })),
    })),
    payments: payments.map((row) => ({
      ...row,
      succeededAt: isoOrNull(row.succeededAt),
      createdAt: iso(row.createdAt),
    })),
    paymentMethods: paymentMethods.map((row) => ({ ...row, createdAt: iso(row.createdAt) })),
    billingCustomer: billingCustomer
      ? { ...billingCustomer, createdAt: iso(billingCustomer.createdAt) }
      : null,
    apiKeys: apiKeys.map((row) => ({
      ...row,
      lastUsedAt: isoOrNull(row.lastUsedAt),
      expiresAt: isoOrNull(row.expiresAt),
      revokedAt: isoOrNull(row.revokedAt),
      createdAt: iso(row.createdAt),
    })),
    webhookEndpoints: webhookEndpoints.map(({ eventTypes, ...row }) => ({
      ...row,
      events: eventTypes,
      createdAt: iso(row.createdAt),
    })),
    emailDeliveries: deliveries.map((row) => ({
      ...row,
      createdAt: iso(row.createdAt),
      sentAt: isoOrNull(row.sentAt),
    })),
    auditLog: audit.map((row) => {
      const actor = row.actorUserId === userId ? 'self' : row.actorUserId === null ? 'system' : 'other';
      return {
        id: row.id,
        at: iso(row.createdAt),
        action: row.action,
        actor,
        targetType: row.targetType,
        targetId: row.targetId,
        ipAddress: actor === 'self' ? row.ipAddress : null,
        userAgent: actor === 'self' ? row.userAgent : null,
        metadata: row.metadata,
      };
    }),
    dataExports: exports.map((row) => ({
      ...row,
      requestedAt: iso(row.requestedAt),
      completedAt: isoOrNull(row.completedAt),
      expiresAt: isoOrNull(row.expiresAt),
    })),
  };
}
