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

/** The part of {@link UserDataDocument} read from the identity tables (`identity-data.repository.ts`). */
export type IdentityDataSection = Pick<
  UserDataDocument,
  | 'account'
  | 'profile'
  | 'sessions'
  | 'oauthAccounts'
  | 'mfaFactors'
  | 'backupCodes'
  | 'emailVerifications'
  | 'passwordResets'
  | 'passwordHistory'
>;

/** The part of {@link UserDataDocument} read from the account tables (`account-data.repository.ts`). */
export type AccountDataSection = Pick<
  UserDataDocument,
  'notificationPreferences' | 'unsubscribeReceipts' | 'dataExports'
>;

/** The part of {@link UserDataDocument} read from the billing tables (`billing-data.repository.ts`). */
export type BillingDataSection = Pick<
  UserDataDocument,
  | 'subscriptions'
  | 'usageRecords'
  | 'invoices'
  | 'payments'
  | 'paymentMethods'
  | 'billingCustomer'
  | 'apiKeys'
  | 'webhookEndpoints'
>;

/** The part of {@link UserDataDocument} read from the shared tables (roles, mail deliveries, audit log) (`platform-data.repository.ts`). */
export type PlatformDataSection = Pick<UserDataDocument, 'roles' | 'emailDeliveries' | 'auditLog'>;
