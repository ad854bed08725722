/**
 * Why a mail is sent, which decides whether the recipient may switch it off and whether it carries a one-click
 * unsubscribe link. The same categories apply to every notification channel (mail, SMS, push, in-app).
 *
 * - `security`: sign-in, password, MFA, address verification. Always delivered, never an unsubscribe link.
 * - `account`: the account's own life cycle (welcome, deactivation, deletion, data export ready). Always
 *   delivered: it answers something the user did or must know about their account.
 * - `billing`: invoices, failed payments, renewals. On by default; may be switched off.
 * - `product`: news and marketing. Off by default (GDPR: marketing needs an opt-in); may be switched on.
 */
export const MAIL_CATEGORIES = ['security', 'account', 'billing', 'product'] as const;

export type MailCategory = (typeof MAIL_CATEGORIES)[number];

/** Categories nobody can switch off: they are sent regardless of preferences and carry no unsubscribe link. */
export const LOCKED_MAIL_CATEGORIES: readonly MailCategory[] = ['security', 'account'];

/** The channels a preference is kept for (Prisma's `NotificationChannel`). */
export const NOTIFICATION_CHANNELS = ['EMAIL', 'SMS', 'PUSH', 'IN_APP'] as const;

export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];

export function isMailCategory(value: string): value is MailCategory {
  return (MAIL_CATEGORIES as readonly string[]).includes(value);
}

export function isNotificationChannel(value: string): value is NotificationChannel {
  return (NOTIFICATION_CHANNELS as readonly string[]).includes(value);
}

/** True for categories the recipient cannot switch off (`security`, `account`). */
export function isLockedCategory(category: MailCategory): boolean {
  return LOCKED_MAIL_CATEGORIES.includes(category);
}

/**
 * Whether a category is on when the user never chose: locked categories and billing on, product (marketing)
 * off on every channel until the user opts in.
 */
export function defaultPreference(_channel: NotificationChannel, category: MailCategory): boolean {
  return category !== 'product';
}

/**
 * The category of each template. Keyed by plain string rather than `MailTemplateName` so that a template added
 * without a category still compiles; `categories.test.ts` fails until it is classified here.
 */
const TEMPLATE_CATEGORIES: Readonly<Record<string, MailCategory>> = {
  'verify-email': 'security',
  welcome: 'account',
  'password-reset': 'security',
  'password-changed': 'security',
  'account-locked': 'security',
  'new-sign-in': 'security',
  'mfa-code': 'security',
  'mfa-enabled': 'security',
  'mfa-disabled': 'security',
  'backup-codes-low': 'security',
  // Announced by the #5 account work; classified here so the mails are right the day they land.
  'email-change-confirm': 'security',
  'email-change-requested': 'security',
  'email-changed': 'security',
  'account-deactivated': 'account',
  'account-reactivate': 'security',
  'account-deleted': 'account',
  'data-export-ready': 'account',
  'product-update': 'product',
  'payment-failed': 'billing',
  'subscription-canceled': 'billing',
  'subscription-suspended': 'billing',
  invoice: 'billing',
};

/** True when the template has an explicit category (unknown names fall back to `security`). */
export function hasTemplateCategory(template: string): boolean {
  return Object.hasOwn(TEMPLATE_CATEGORIES, template);
}

/**
 * The category of a template. An unknown or unclassified template is treated as `security`, the strictest
 * rule for delivery: a mail of unknown purpose is never suppressed by a preference (missing a security mail
 * costs more than an unwanted one) and carries no unsubscribe link.
 */
export function templateCategory(template: string): MailCategory {
  return Object.hasOwn(TEMPLATE_CATEGORIES, template)
    ? (TEMPLATE_CATEGORIES[template] as MailCategory)
    : 'security';
}
