/**
 * The permission registry: every permission the platform checks, as typed `resource:action` keys with the
 * description the seed stores. Shield rules (`hasPermission`), the seed and the token's `permissions` claim all
 * use these keys; a key that is not here does not type-check.
 */
export const SYSTEM_PERMISSIONS = {
  'users:read': 'Read any user account, profile and sessions',
  'users:write': 'Create, update, suspend and delete user accounts',
  'roles:manage': 'Create roles and grant or revoke roles and permissions',
  'audit:read': 'Read the audit log',
  'billing:read': "Read any user's subscriptions, invoices and payments",
  'billing:manage': 'Manage plans, subscriptions, invoices and refunds',
  'settings:manage': 'Change platform settings, feature flags and webhooks',
} as const;

export type SystemPermission = keyof typeof SYSTEM_PERMISSIONS;

/** Opens the audit log: its query, its streamed export and the gateway's `auditEvents` stream. */
export const AUDIT_READ_PERMISSION = 'audit:read' satisfies SystemPermission;
