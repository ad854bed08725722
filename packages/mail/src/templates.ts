/*
 * Long on purpose (~730 lines): every mail's data schema sits beside its subject, HTML and text, so a mail is
 * added or reviewed in one place; splitting per mail would scatter the shared escaping and layout helpers.
 */
import { z } from 'zod';

/**
 * The mails Gatehouse sends, with the data each needs. Data is stored (encrypted) and travels through the job
 * queue as JSON, so dates may arrive as ISO strings; the schemas accept both and always hand content a Date.
 */

/** A single line of text from a user or a device (names, user agents): whitespace collapsed, length capped. */
const line = z
  .string()
  .transform((value) => value.replace(/\s+/g, ' ').trim())
  .pipe(z.string().min(1).max(200));

/** Only http(s): a `javascript:` or `data:` link must never reach a mail client. */
const link = z
  .string()
  .trim()
  .max(2048)
  .refine(
    (value) => {
      try {
        const { protocol } = new URL(value);
        return protocol === 'https:' || protocol === 'http:';
      } catch {
        return false;
      }
    },
    { error: 'must be an http:// or https:// URL' },
  );

const instant = z.union([z.date(), z.iso.datetime({ offset: true })]).transform((value) => new Date(value));

const ip = z.string().trim().max(64);
const name = line.optional();

export const mailTemplateSchemas = {
  'verify-email': z.object({
    name,
    verifyUrl: link,
    expiresInHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30),
  }),
  welcome: z.object({
    name,
    /** Where to sign in or start; omitted: no button. */
    signInUrl: link.optional(),
  }),
  'password-reset': z.object({
    name,
    resetUrl: link,
    expiresInMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60),
    /** Where the request came from, to help the user spot one they did not make. */
    ip: ip.optional(),
    device: line.optional(),
    location: line.optional(),
  }),
  'password-changed': z.object({
    name,
    at: instant,
    ip: ip.optional(),
    device: line.optional(),
    location: line.optional(),
    /** Where to reset the password if the change was not the user's doing. */
    resetUrl: link.optional(),
  }),
  'account-locked': z.object({
    name,
    lockedUntil: instant,
    resetUrl: link.optional(),
  }),
  'new-sign-in': z.object({
    name,
    device: line,
    location: line.optional(),
    ip: ip.optional(),
    at: instant,
    /** Where the user can review and end sessions. */
    manageSessionsUrl: link.optional(),
  }),
  /** A one-time code for a second factor (sign-in, enrolling the address, turning MFA off). */
  'mfa-code': z.object({
    name,
    code: z.string().regex(/^\d{6,8}$/, { error: 'must be 6 to 8 digits' }),
    expiresInMinutes: z.number().int().min(1).max(60),
  }),
  'mfa-enabled': z.object({
    name,
    at: instant,
    /** The factor that turned it on, as a person would say it: `an authenticator app`. */
    method: line,
    ip: ip.optional(),
    device: line.optional(),
    location: line.optional(),
    /** Where the user manages two-step verification. */
    manageUrl: link.optional(),
  }),
  'mfa-disabled': z.object({
    name,
    at: instant,
    ip: ip.optional(),
    device: line.optional(),
    location: line.optional(),
    /** Where to reset the password if the change was not the user's doing. */
    resetUrl: link.optional(),
  }),
  'backup-codes-low': z.object({
    name,
    /** Unused backup codes left. */
    remaining: z.number().int().min(0).max(100),
    /** Where the user creates a new set. */
    manageUrl: link.optional(),
  }),
  /** The owner deactivated the account; says how to come back. */
  'account-deactivated': z.object({
    name,
    at: instant,
    ip: ip.optional(),
    /** Where to sign in to start a reactivation. */
    signInUrl: link.optional(),
    /** Where to reset the password if the deactivation was not the user's doing. */
    resetUrl: link.optional(),
  }),
  /** A single-use link that makes a deactivated account active again (sent after a correct sign-in). */
  'account-reactivate': z.object({
    name,
    reactivateUrl: link,
    expiresInHours: z.number().int().min(1).max(72),
    /** Where the sign-in that asked for it came from. */
    ip: ip.optional(),
  }),
  /** The owner deleted the account; says when the personal data is purged for good. */
  'account-deleted': z.object({
    name,
    at: instant,
    purgeAt: instant,
  }),
  /** A GDPR data export finished; `downloadUrl` is a signed link that works until `expiresAt` without signing in. */
  'data-export-ready': z.object({
    name,
    downloadUrl: link,
    expiresAt: instant,
  }),
  /** Product news (marketing, category `product`): only to users who opted in, always with an unsubscribe link. */
  'email-change-confirm': z.object({
    name,
    /** The link that switches the address (single use). */
    confirmUrl: link,
    expiresInHours: z.number().int().positive(),
  }),
  'email-change-requested': z.object({
    name,
    /** The address the account is asked to move to. */
    newEmail: z.email().max(254),
    at: instant,
  }),
  'email-changed': z.object({
    name,
    newEmail: z.email().max(254),
    at: instant,
  }),
  'product-update': z.object({
    name,
    /** Also the subject. */
    headline: line,
    /** Plain-text paragraphs (no markup: everything is escaped). */
    paragraphs: z.array(z.string().trim().min(1).max(2000)).min(1).max(20),
    /** An optional call to action. */
    action: z.object({ label: line, url: link }).optional(),
  }),
  // Billing (issue #7). Amounts arrive formatted (`EUR 12.00`): the billing subgraph owns currency rules.
  /** A charge failed; dunning retries it at `nextAttemptAt`, or null when that was the last attempt. */
  'payment-failed': z.object({
    name,
    /** The amount that could not be charged, formatted. */
    amount: line,
    /** Which attempt failed, 1 for the first charge. */
    attempt: z.number().int().min(1).max(20),
    /** When the charge is retried; null: that was the final attempt. */
    nextAttemptAt: instant.nullable(),
    /** What the card issuer said, in words (never a raw provider message with card data). */
    reason: line.optional(),
    invoiceNumber: line.optional(),
    /** Where the user adds or changes a payment method. */
    updatePaymentUrl: link,
  }),
  /** The subscription was canceled at period end; access stays until `accessUntil`. */
  'subscription-canceled': z.object({
    name,
    planName: line,
    accessUntil: instant,
    /** Where the user resumes the subscription before it ends. */
    resumeUrl: link.optional(),
  }),
  /** Every payment retry failed: the subscription is suspended and access limited until a payment succeeds. */
  'subscription-suspended': z.object({
    name,
    planName: line,
    /** The amount still owed, formatted. */
    amount: line.optional(),
    updatePaymentUrl: link,
  }),
  /** An invoice was paid; the PDF is attached and `downloadUrl` leads to it in the account (after sign-in). */
  invoice: z.object({
    name,
    number: line,
    /** The invoice total, formatted. */
    total: line,
    paidAt: instant.optional(),
    downloadUrl: link,
  }),
} as const;

type Schemas = typeof mailTemplateSchemas;

export type MailTemplateName = keyof Schemas;

/** What a caller passes for `template` (dates as Date or ISO string). */
export type MailTemplateData<T extends MailTemplateName> = z.input<Schemas[T]>;

/** Template data after validation (dates as Date). */
export type ParsedMailTemplateData<T extends MailTemplateName> = z.output<Schemas[T]>;

export const MAIL_TEMPLATE_NAMES = Object.keys(mailTemplateSchemas) as MailTemplateName[];

export function isMailTemplateName(value: string): value is MailTemplateName {
  return Object.hasOwn(mailTemplateSchemas, value);
}

/** The building blocks of every mail: each renders to HTML and to text, so the two parts always agree. */
export type Block =
  | { kind: 'heading'; text: string }
  /** The greeting marks where the intro starts: an `intro` override replaces the first paragraph after it. */
  | { kind: 'paragraph'; text: string; role?: 'greeting' }
  | { kind: 'button'; label: string; url: string }
  /** Label/value pairs, e.g. the device and IP address of a sign-in. Empty values are left out. */
  | { kind: 'details'; rows: [label: string, value: string | undefined][] };

export interface MailContent {
  subject: string;
  blocks: Block[];
}

const dateTimeFormat = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'medium',
  timeStyle: 'short',
  timeZone: 'UTC',
});

/** `28 Nov 2026, 17:05 UTC`: mails are read in any time zone, so say which one. */
export function formatInstant(date: Date): string {
  return `${dateTimeFormat.format(date)} UTC`;
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

function greeting(name: string | undefined): Block {
  return { kind: 'paragraph', text: name ? `Hi ${name},` : 'Hi,', role: 'greeting' };
}

/** When, from which device and where a security-relevant change happened. */
function whereAndWhen(data: { at: Date; device?: string; location?: string; ip?: string }): Block {
  return {
    kind: 'details',
    rows: [
      ['When', formatInstant(data.at)],
      ['Device', data.device],
      ['Location', data.location],
      ['IP address', data.ip],
    ],
  };
}

type ContentBuilders = {
  [T in MailTemplateName]: (data: ParsedMailTemplateData<T>, productName: string) => MailContent;
};

export const mailContent: ContentBuilders = {
  'verify-email': (data, product) => ({
    subject: `Verify your email address for ${product}`,
    blocks: [
      { kind: 'heading', text: 'Verify your email address' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `Confirm that this is your email address to finish setting up your ${product} account.`,
      },
      { kind: 'button', label: 'Verify email address', url: data.verifyUrl },
      {
        kind: 'paragraph',
        text:
          `This link expires in ${plural(data.expiresInHours, 'hour')}. ` +
          `If you did not create a ${product} account, you can ignore this email.`,
      },
    ],
  }),

  welcome: (data, product) => ({
    subject: `Welcome to ${product}`,
    blocks: [
      { kind: 'heading', text: `Welcome to ${product}` },
      greeting(data.name),
      { kind: 'paragraph', text: `Your ${product} account is ready.` },
      ...(data.signInUrl ? [{ kind: 'button', label: 'Sign in', url: data.signInUrl } as const] : []),
    ],
  }),

  'password-reset': (data, product) => ({
    subject: `Reset your ${product} password`,
    blocks: [
      { kind: 'heading', text: 'Reset your password' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `We received a request to reset the password of your ${product} account.`,
      },
      { kind: 'button', label: 'Reset password', url: data.resetUrl },
      {
        kind: 'paragraph',
        text: `This link expires in ${plural(data.expiresInMinutes, 'minute')} and works once.`,
      },
      {
        kind: 'details',
        rows: [
          ['Requested from', data.device],
          ['Location', data.location],
          ['IP address', data.ip],
        ],
      },
      {
        kind: 'paragraph',
        text: 'If you did not ask for this, ignore this email: your password stays the same.',
      },
    ],
  }),

  'password-changed': (data, product) => ({
    subject: `Your ${product} password was changed`,
    blocks: [
      { kind: 'heading', text: 'Your password was changed' },
      greeting(data.name),
      { kind: 'paragraph', text: `The password of your ${product} account was changed.` },
      whereAndWhen(data),
      {
        kind: 'paragraph',
        text: 'If you made this change, there is nothing else to do. If you did not, reset your password now.',
      },
      ...(data.resetUrl ? [{ kind: 'button', label: 'Reset password', url: data.resetUrl } as const] : []),
    ],
  }),

  'account-locked': (data, product) => ({
    subject: `Your ${product} account is temporarily locked`,
    blocks: [
      { kind: 'heading', text: 'Your account is temporarily locked' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text:
          `After several failed sign-in attempts, sign-in to your ${product} account is locked until ` +
          `${formatInstant(data.lockedUntil)}.`,
      },
      {
        kind: 'paragraph',
        text: 'If these attempts were not yours, someone may be guessing your password. Choose a new one to be safe.',
      },
      ...(data.resetUrl ? [{ kind: 'button', label: 'Reset password', url: data.resetUrl } as const] : []),
    ],
  }),

  'new-sign-in': (data, product) => ({
    subject: `New sign-in to your ${product} account`,
    blocks: [
      { kind: 'heading', text: 'New sign-in to your account' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `Your ${product} account was just signed in to from a device or place it has not been used from recently.`,
      },
      whereAndWhen(data),
      {
        kind: 'paragraph',
        text: 'If this was you, there is nothing to do. If not, end that session and change your password.',
      },
      ...(data.manageSessionsUrl
        ? [{ kind: 'button', label: 'Review your sessions', url: data.manageSessionsUrl } as const]
        : []),
    ],
  }),

  // The code stays out of the subject: subjects show on lock screens and in notification previews.
  'mfa-code': (data, product) => ({
    subject: `Your ${product} verification code`,
    blocks: [
      { kind: 'heading', text: 'Your verification code' },
      greeting(data.name),
      { kind: 'paragraph', text: `Enter this code to confirm it is you on ${product}:` },
      { kind: 'paragraph', text: data.code },
      {
        kind: 'paragraph',
        text:
          `The code expires in ${plural(data.expiresInMinutes, 'minute')} and works once. ` +
          `Never share it: ${product} will never ask you for it.`,
      },
      {
        kind: 'paragraph',
        text: 'If you did not ask for a code, someone may know your password: change it now.',
      },
    ],
  }),

  'mfa-enabled': (data, product) => ({
    subject: `Two-step verification is on for your ${product} account`,
    blocks: [
      { kind: 'heading', text: 'Two-step verification is on' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text:
          `Signing in to your ${product} account now needs a second step with ${data.method}. ` +
          'Keep your backup codes somewhere safe: they get you in if you lose it.',
      },
      whereAndWhen(data),
      {
        kind: 'paragraph',
        text: 'If you did not turn this on, someone else may control your account: reset your password now.',
      },
      ...(data.manageUrl
        ? [{ kind: 'button', label: 'Manage two-step verification', url: data.manageUrl } as const]
        : []),
    ],
  }),

  'mfa-disabled': (data, product) => ({
    subject: `Two-step verification was turned off for your ${product} account`,
    blocks: [
      { kind: 'heading', text: 'Two-step verification is off' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text:
          `Your ${product} account no longer asks for a second step at sign-in. Its authenticator, ` +
          'phone and backup codes were removed, and your other devices were signed out.',
      },
      whereAndWhen(data),
      {
        kind: 'paragraph',
        text: 'If you did not do this, reset your password now and turn two-step verification back on.',
      },
      ...(data.resetUrl ? [{ kind: 'button', label: 'Reset password', url: data.resetUrl } as const] : []),
    ],
  }),

  'backup-codes-low': (data, product) => ({
    subject: `You are running out of ${product} backup codes`,
    blocks: [
      { kind: 'heading', text: 'You are running out of backup codes' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text:
          data.remaining === 0
            ? `You have used all backup codes of your ${product} account.`
            : `Your ${product} account has only ${plural(data.remaining, 'unused backup code')} left.`,
      },
      {
        kind: 'paragraph',
        text:
          'Create a new set while you can still sign in, and keep it somewhere safe. ' +
          'If you did not use a backup code recently, change your password now.',
      },
      ...(data.manageUrl
        ? [{ kind: 'button', label: 'Create new backup codes', url: data.manageUrl } as const]
        : []),
    ],
  }),

  'account-deactivated': (data, product) => ({
    subject: `Your ${product} account is deactivated`,
    blocks: [
      { kind: 'heading', text: 'Your account is deactivated' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text:
          `Your ${product} account was deactivated and signed out everywhere. ` +
          'To come back, sign in as usual: we will email you a link that turns the account on again.',
      },
      whereAndWhen(data),
      ...(data.signInUrl ? [{ kind: 'button', label: 'Sign in', url: data.signInUrl } as const] : []),
      {
        kind: 'paragraph',
        text: 'If you did not do this, someone may know your password: reset it now.',
      },
      ...(data.resetUrl ? [{ kind: 'button', label: 'Reset password', url: data.resetUrl } as const] : []),
    ],
  }),

  'account-reactivate': (data, product) => ({
    subject: `Reactivate your ${product} account`,
    blocks: [
      { kind: 'heading', text: 'Reactivate your account' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `Someone signed in to your deactivated ${product} account with its password. Confirm that it was you to turn the account on again.`,
      },
      { kind: 'button', label: 'Reactivate account', url: data.reactivateUrl },
      {
        kind: 'paragraph',
        text: `This link expires in ${plural(data.expiresInHours, 'hour')} and works once.`,
      },
      { kind: 'details', rows: [['IP address', data.ip]] },
      {
        kind: 'paragraph',
        text: 'If this was not you, do not use the link and reset your password: someone knows it.',
      },
    ],
  }),

  'account-deleted': (data, product) => ({
    subject: `Your ${product} account is deleted`,
    blocks: [
      { kind: 'heading', text: 'Your account is deleted' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text:
          `Your ${product} account was deleted on ${formatInstant(data.at)} and signed out everywhere. ` +
          'You can no longer sign in to it.',
      },
      {
        kind: 'paragraph',
        text:
          `Your personal data will be erased for good on ${formatInstant(data.purgeAt)}. ` +
          'Invoices and payments are kept as the law requires, without your personal details.',
      },
      {
        kind: 'paragraph',
        text: `If you did not do this, contact ${product} support before that date.`,
      },
    ],
  }),

  // The link itself is the credential (no sign-in needed), so the mail says plainly not to forward it.
  'data-export-ready': (data, product) => ({
    subject: `Your ${product} data export is ready`,
    blocks: [
      { kind: 'heading', text: 'Your data export is ready' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `The copy of your personal data you asked ${product} for is ready to download as a JSON file.`,
      },
      { kind: 'button', label: 'Download your data', url: data.downloadUrl },
      {
        kind: 'paragraph',
        text:
          `The link works until ${formatInstant(data.expiresAt)}; after that the file is deleted. ` +
          'Anyone who has the link can download the file, so do not forward this email.',
      },
      {
        kind: 'paragraph',
        text: 'If you did not ask for an export, someone may know your password: change it now.',
      },
    ],
  }),

  'email-change-confirm': (data, product) => ({
    subject: `Confirm your new ${product} email address`,
    blocks: [
      { kind: 'heading', text: 'Confirm your new email address' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `Someone asked to use this address for a ${product} account. If it was you, confirm it; the link works once and expires in ${data.expiresInHours} hours.`,
      },
      { kind: 'button', label: 'Confirm the address', url: data.confirmUrl },
      { kind: 'paragraph', text: 'If it was not you, ignore this mail: nothing changes.' },
    ],
  }),

  'email-change-requested': (data, product) => ({
    subject: `A change of your ${product} email address was requested`,
    blocks: [
      { kind: 'heading', text: 'Email change requested' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `Your ${product} account asked to move to ${data.newEmail}. Nothing changes until the link sent there is followed.`,
      },
      { kind: 'details', rows: [['When', formatInstant(data.at)]] },
      {
        kind: 'paragraph',
        text: 'If this was not you, someone may be signed in to your account: change your password and end your other sessions.',
      },
    ],
  }),

  'email-changed': (data, product) => ({
    subject: `Your ${product} email address was changed`,
    blocks: [
      { kind: 'heading', text: 'Your email address was changed' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `Your ${product} account now signs in with ${data.newEmail}; mail no longer comes to this address.`,
      },
      { kind: 'details', rows: [['When', formatInstant(data.at)]] },
      { kind: 'paragraph', text: 'If you did not make this change, contact support right away.' },
    ],
  }),

  'product-update': (data) => ({
    subject: data.headline,
    blocks: [
      { kind: 'heading', text: data.headline },
      greeting(data.name),
      ...data.paragraphs.map((text) => ({ kind: 'paragraph', text }) as const),
      ...(data.action ? [{ kind: 'button', label: data.action.label, url: data.action.url } as const] : []),
    ],
  }),

  'payment-failed': (data, product) => ({
    subject:
      data.nextAttemptAt === null
        ? `Final payment attempt failed for your ${product} subscription`
        : `Your ${product} payment failed`,
    blocks: [
      { kind: 'heading', text: 'Your payment failed' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `We could not charge ${data.amount} for your ${product} subscription.`,
      },
      {
        kind: 'details',
        rows: [
          ['Amount', data.amount],
          ['Invoice', data.invoiceNumber],
          ['Attempt', String(data.attempt)],
          ['Reason', data.reason],
          [
            'Next attempt',
            data.nextAttemptAt === null
              ? 'none (that was the final attempt)'
              : formatInstant(data.nextAttemptAt),
          ],
        ],
      },
      {
        kind: 'paragraph',
        text:
          data.nextAttemptAt === null
            ? 'That was the final attempt: your subscription is suspended until the payment succeeds. ' +
              'Update your payment method to restore full access.'
            : `We will try again on ${formatInstant(data.nextAttemptAt)}. ` +
              'To avoid an interruption, check or update your payment method before then.',
      },
      { kind: 'button', label: 'Update payment method', url: data.updatePaymentUrl },
    ],
  }),

  'subscription-canceled': (data, product) => ({
    subject: `Your ${product} subscription is canceled`,
    blocks: [
      { kind: 'heading', text: 'Your subscription is canceled' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text:
          `Your ${data.planName} subscription will not renew. You keep access until ` +
          `${formatInstant(data.accessUntil)}, and you will not be charged again.`,
      },
      ...(data.resumeUrl
        ? [
            {
              kind: 'paragraph',
              text: 'Changed your mind? You can resume the subscription any time before then.',
            } as const,
            { kind: 'button', label: 'Resume subscription', url: data.resumeUrl } as const,
          ]
        : []),
    ],
  }),

  'subscription-suspended': (data, product) => ({
    subject: `Your ${product} subscription is suspended`,
    blocks: [
      { kind: 'heading', text: 'Your subscription is suspended' },
      greeting(data.name),
      {
        kind: 'paragraph',
        text:
          `We could not collect the payment for your ${data.planName} subscription after several attempts, ` +
          'so its features are limited until the payment succeeds.',
      },
      { kind: 'details', rows: [['Amount due', data.amount]] },
      { kind: 'button', label: 'Update payment method', url: data.updatePaymentUrl },
    ],
  }),

  invoice: (data, product) => ({
    subject: `Your ${product} invoice ${data.number}`,
    blocks: [
      { kind: 'heading', text: `Invoice ${data.number}` },
      greeting(data.name),
      {
        kind: 'paragraph',
        text: `Thank you for your payment. Your ${product} invoice is attached as a PDF.`,
      },
      {
        kind: 'details',
        rows: [
          ['Invoice number', data.number],
          ['Total', data.total],
          ['Paid', data.paidAt ? formatInstant(data.paidAt) : undefined],
        ],
      },
      { kind: 'button', label: 'View invoice', url: data.downloadUrl },
    ],
  }),
};
