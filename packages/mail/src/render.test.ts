import { ValidationError } from '@gatehouse/errors';
import { escapeHtml, renderMail } from './render';
import {
  MAIL_TEMPLATE_NAMES,
  formatInstant,
  type MailTemplateData,
  type MailTemplateName,
} from './templates';
import { extractLinks } from './links';

const examples: { [T in MailTemplateName]: { data: MailTemplateData<T>; link?: string } } = {
  'verify-email': {
    data: { name: 'Ada', verifyUrl: 'https://id.example.com/verify?token=v3r1fy', expiresInHours: 24 },
    link: 'https://id.example.com/verify?token=v3r1fy',
  },
  welcome: {
    data: { name: 'Ada', signInUrl: 'https://id.example.com/sign-in' },
    link: 'https://id.example.com/sign-in',
  },
  'password-reset': {
    data: {
      resetUrl: 'https://id.example.com/reset?token=r3s3t',
      expiresInMinutes: 30,
      ip: '203.0.113.7',
      device: 'Firefox on Linux',
    },
    link: 'https://id.example.com/reset?token=r3s3t',
  },
  'password-changed': {
    data: { at: '2026-11-28T17:05:00.000Z', resetUrl: 'https://id.example.com/forgot' },
    link: 'https://id.example.com/forgot',
  },
  'account-locked': {
    data: { lockedUntil: new Date('2026-11-28T17:20:00Z'), resetUrl: 'https://id.example.com/forgot' },
    link: 'https://id.example.com/forgot',
  },
  'new-sign-in': {
    data: {
      device: 'Safari on iOS',
      location: 'Lisbon, Portugal',
      ip: '2001:db8::1',
      at: new Date('2026-11-28T17:05:00Z'),
      manageSessionsUrl: 'https://id.example.com/security',
    },
    link: 'https://id.example.com/security',
  },
  'mfa-code': { data: { name: 'Ada', code: '042917', expiresInMinutes: 5 } },
  'mfa-enabled': {
    data: {
      method: 'an authenticator app',
      at: new Date('2026-11-28T17:05:00Z'),
      ip: '203.0.113.7',
      manageUrl: 'https://id.example.com/account/security',
    },
    link: 'https://id.example.com/account/security',
  },
  'mfa-disabled': {
    data: { at: '2026-11-28T17:05:00.000Z', resetUrl: 'https://id.example.com/forgot-password' },
    link: 'https://id.example.com/forgot-password',
  },
  'backup-codes-low': {
    data: { remaining: 2, manageUrl: 'https://id.example.com/account/security' },
    link: 'https://id.example.com/account/security',
  },
  'account-deactivated': {
    data: {
      name: 'Ada',
      at: '2026-11-28T17:05:00.000Z',
      ip: '203.0.113.7',
      signInUrl: 'https://id.example.com/sign-in',
      resetUrl: 'https://id.example.com/forgot-password',
    },
    link: 'https://id.example.com/sign-in',
  },
  'account-reactivate': {
    data: { reactivateUrl: 'https://id.example.com/reactivate-account?token=r3act', expiresInHours: 24 },
    link: 'https://id.example.com/reactivate-account?token=r3act',
  },
  'account-deleted': {
    data: { name: 'Ada', at: new Date('2026-11-28T17:05:00Z'), purgeAt: '2026-12-28T17:05:00.000Z' },
  },
  'data-export-ready': {
    data: {
      name: 'Ada',
      downloadUrl: 'https://files.example.com/exports/u1/e1.json?expires=1796000000&signature=s1gn',
      expiresAt: '2026-12-05T17:05:00.000Z',
    },
    link: 'https://files.example.com/exports/u1/e1.json?expires=1796000000&signature=s1gn',
  },
  'email-change-confirm': {
    data: {
      name: 'Ada',
      confirmUrl: 'https://id.example.com/confirm-email-change?token=c0nf1rm',
      expiresInHours: 24,
    },
    link: 'https://id.example.com/confirm-email-change?token=c0nf1rm',
  },
  'email-change-requested': {
    data: { name: 'Ada', newEmail: 'ada@new.example.com', at: '2026-11-28T17:05:00.000Z' },
  },
  'email-changed': {
    data: { name: 'Ada', newEmail: 'ada@new.example.com', at: '2026-11-28T17:05:00.000Z' },
  },
  'product-update': {
    data: {
      name: 'Ada',
      headline: 'Passkeys are here',
      paragraphs: ['Sign in with a passkey.', 'No password to remember.'],
      action: { label: 'Try it', url: 'https://id.example.com/account/security' },
    },
    link: 'https://id.example.com/account/security',
  },
  'payment-failed': {
    data: {
      name: 'Ada',
      amount: 'EUR 29.00',
      attempt: 2,
      nextAttemptAt: '2026-12-04T09:00:00.000Z',
      reason: 'Your card was declined.',
      invoiceNumber: 'GH-2026-000042',
      updatePaymentUrl: 'https://app.example.com/billing/payment-methods',
    },
    link: 'https://app.example.com/billing/payment-methods',
  },
  'subscription-canceled': {
    data: {
      name: 'Ada',
      planName: 'Pro',
      accessUntil: '2026-12-31T00:00:00.000Z',
      resumeUrl: 'https://app.example.com/billing',
    },
    link: 'https://app.example.com/billing',
  },
  'subscription-suspended': {
    data: {
      planName: 'Pro',
      amount: 'EUR 29.00',
      updatePaymentUrl: 'https://app.example.com/billing/payment-methods',
    },
    link: 'https://app.example.com/billing/payment-methods',
  },
  invoice: {
    data: {
      name: 'Ada',
      number: 'GH-2026-000042',
      total: 'EUR 34.51',
      paidAt: '2026-11-28T17:05:00.000Z',
      downloadUrl: 'https://app.example.com/billing/invoices/42',
    },
    link: 'https://app.example.com/billing/invoices/42',
  },
};

function render<T extends MailTemplateName>(template: T, data: MailTemplateData<T>, productName?: string) {
  return renderMail(template, data, { productName });
}

describe('renderMail', () => {
  it.each(MAIL_TEMPLATE_NAMES)('%s: subject, accessible HTML and text carrying the same link', (template) => {
    const { data, link } = examples[template];
    const mail = render(template, data as MailTemplateData<typeof template>);

    expect(mail.subject).toMatch(/\S/);
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(mail.html).toContain(`<title>${escapeHtml(mail.subject)}</title>`);
    expect(mail.html).toContain('<h1');
    expect(mail.text.trim().length).toBeGreaterThan(40);
    if (link) {
      expect(extractLinks(mail.text)).toContain(link);
      expect(mail.html).toContain(`href="${escapeHtml(link)}"`);
    }
    // Nothing is fetched when the mail is opened: no images, no stylesheets, no web fonts.
    expect(mail.html).not.toMatch(/<img|<link|@import|url\(|src=/i);
  });

  it('is pure: the same input renders the same output', () => {
    const { data } = examples['new-sign-in'];
    expect(render('new-sign-in', data)).toEqual(render('new-sign-in', data));
  });

  it('HTML-escapes every interpolated value but keeps the text part literal', () => {
    const hostile = `<script>alert("x")</script> & 'friends'`;
    const mail = render(
      'new-sign-in',
      { name: hostile, device: '<b>Chrome</b>', location: 'A & B', at: new Date(0) },
      'Acme <Identity>',
    );

    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<b>Chrome');
    expect(mail.html).not.toContain('Acme <Identity>');
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;friends&#39;');
    expect(mail.html).toContain('&lt;b&gt;Chrome&lt;/b&gt;');
    expect(mail.html).toContain('A &amp; B');
    expect(mail.html).toContain('Acme &lt;Identity&gt;');
    expect(mail.text).toContain(`Hi ${hostile},`);
    expect(mail.subject).toBe('New sign-in to your Acme <Identity> account');
  });

  it('escapes links in attributes, so a quote cannot open a new attribute', () => {
    const url = 'https://id.example.com/verify?token=a&next=/x"onmouseover="alert(1)';
    const mail = render('verify-email', { verifyUrl: url, expiresInHours: 1 });
    expect(mail.html).not.toContain('"onmouseover');
    expect(mail.html).toContain(
      'href="https://id.example.com/verify?token=a&amp;next=/x&quot;onmouseover=&quot;alert(1)"',
    );
    expect(mail.text).toContain(url);
    expect(mail.text).toContain('This link expires in 1 hour.');
  });

  it.each(['javascript:alert(1)', 'data:text/html,hi', 'ftp://example.com/x', '/relative/path'])(
    'rejects the link %s',
    (verifyUrl) => {
      expect(() => render('verify-email', { verifyUrl, expiresInHours: 24 })).toThrow(ValidationError);
    },
  );

  it('reports invalid data by field, without the values', () => {
    let error: unknown;
    try {
      render('password-reset', { resetUrl: 'https://x.example/reset?token=s3cret', expiresInMinutes: 0 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual([
      { path: 'expiresInMinutes', message: expect.any(String) },
    ]);
    expect(JSON.stringify(error)).not.toContain('s3cret');
  });

  it('collapses line breaks in user-supplied single-line values', () => {
    const mail = render('new-sign-in', { device: 'Chrome\r\nBcc: x@example.com', at: new Date(0) });
    expect(mail.text).toContain('Device: Chrome Bcc: x@example.com');
  });

  it('states times in UTC and leaves out unknown details', () => {
    const mail = render('password-changed', { at: '2026-11-28T17:05:00+01:00' });
    expect(mail.text).toContain('When: 28 Nov 2026, 16:05 UTC');
    expect(mail.text).not.toContain('IP address');
    expect(mail.html).not.toContain('IP address');
    expect(formatInstant(new Date('2026-01-02T03:04:05Z'))).toBe('2 Jan 2026, 03:04 UTC');
  });

  it('greets by name when known and uses the product name', () => {
    expect(render('welcome', { name: 'Grace' }, 'Acme').text).toMatch(/^Welcome to Acme\n\nHi Grace,/);
    expect(render('welcome', {}).text).toMatch(/^Welcome to Gatehouse\n\nHi,/);
    expect(render('welcome', {}).html).not.toContain('href=');
  });
});

describe('multi-factor mails', () => {
  it('mfa-code: shows the code on its own line, keeps it out of the subject and states the expiry', () => {
    const mail = render('mfa-code', { code: '042917', expiresInMinutes: 5 });
    expect(mail.subject).toBe('Your Gatehouse verification code');
    expect(mail.subject).not.toContain('042917');
    expect(mail.text).toContain('\n\n042917\n\n');
    expect(mail.html).toContain('>042917</p>');
    expect(mail.text).toContain('expires in 5 minutes and works once');
    expect(extractLinks(mail.text)).toEqual([]);
  });

  it.each(['12345', '123456789', '12a456', ' 123456'])('mfa-code refuses the code %j', (code) => {
    expect(() => render('mfa-code', { code, expiresInMinutes: 5 })).toThrow(ValidationError);
  });

  it('mfa-enabled and mfa-disabled say when and from where', () => {
    const enabled = render('mfa-enabled', {
      name: 'Grace',
      method: 'text messages to +*******4567',
      at: '2026-11-28T17:05:00Z',
      ip: '203.0.113.7',
      device: 'Firefox on Linux',
    });
    expect(enabled.subject).toBe('Two-step verification is on for your Gatehouse account');
    expect(enabled.text).toContain('a second step with text messages to +*******4567');
    expect(enabled.text).toContain(
      'When: 28 Nov 2026, 17:05 UTC\nDevice: Firefox on Linux\nIP address: 203.0.113.7',
    );
    const disabled = render('mfa-disabled', { at: new Date('2026-11-28T17:05:00Z') }, 'Acme');
    expect(disabled.subject).toBe('Two-step verification was turned off for your Acme account');
    expect(disabled.text).toContain('your other devices were signed out');
    expect(disabled.html).not.toContain('href=');
  });

  it('backup-codes-low counts what is left, and says so when none is', () => {
    expect(render('backup-codes-low', { remaining: 1 }).text).toContain('only 1 unused backup code left.');
    expect(render('backup-codes-low', { remaining: 2 }).text).toContain('only 2 unused backup codes left.');
    expect(render('backup-codes-low', { remaining: 0 }).text).toContain('You have used all backup codes');
    expect(() => render('backup-codes-low', { remaining: -1 })).toThrow(ValidationError);
  });
});

describe('data-export-ready', () => {
  it('carries the signed link, states when it stops working and warns against forwarding', () => {
    const downloadUrl = 'https://files.example.com/exports/u1/e1.json?expires=1796000000&signature=s1gn';
    const mail = render('data-export-ready', { downloadUrl, expiresAt: '2026-12-05T17:05:00Z' }, 'Acme');
    expect(mail.subject).toBe('Your Acme data export is ready');
    expect(extractLinks(mail.text)).toEqual([downloadUrl]);
    expect(mail.html).toContain(`href="${downloadUrl.replace(/&/g, '&amp;')}"`);
    expect(mail.text).toContain('The link works until 5 Dec 2026, 17:05 UTC');
    expect(mail.text).toContain('do not forward this email');
    expect(() =>
      render('data-export-ready', { downloadUrl: 'javascript:alert(1)', expiresAt: new Date() }),
    ).toThrow(ValidationError);
  });
});

describe('leaving mails', () => {
  it('account-reactivate: carries the single-use link and its expiry, and refuses a non-http link', () => {
    const reactivateUrl = 'https://id.example.com/reactivate-account?token=r3act';
    const mail = render(
      'account-reactivate',
      { reactivateUrl, expiresInHours: 24, ip: '203.0.113.7' },
      'Acme',
    );
    expect(mail.subject).toBe('Reactivate your Acme account');
    expect(extractLinks(mail.text)).toEqual([reactivateUrl]);
    expect(mail.text).toContain('This link expires in 24 hours and works once.');
    expect(mail.text).toContain('203.0.113.7');
    expect(() =>
      render('account-reactivate', { reactivateUrl: 'javascript:alert(1)', expiresInHours: 24 }),
    ).toThrow(ValidationError);
  });

  it('account-deleted: states when the data is purged, in UTC', () => {
    const mail = render('account-deleted', {
      at: '2026-11-28T17:05:00Z',
      purgeAt: new Date('2026-12-28T17:05:00Z'),
    });
    expect(mail.text).toContain('deleted on 28 Nov 2026, 17:05 UTC');
    expect(mail.text).toContain('erased for good on 28 Dec 2026, 17:05 UTC');
    expect(extractLinks(mail.text)).toEqual([]);
  });

  it('account-deactivated: explains how to come back and links sign-in and password reset', () => {
    const { data } = examples['account-deactivated'];
    const mail = render('account-deactivated', data);
    expect(mail.text).toContain('sign in as usual');
    expect(extractLinks(mail.text)).toEqual([
      'https://id.example.com/sign-in',
      'https://id.example.com/forgot-password',
    ]);
  });
});

describe('extractLinks', () => {
  it('finds http(s) links and drops trailing punctuation', () => {
    expect(extractLinks('Open https://a.example/x?y=1. Or (http://b.example/z), not ftp://c.')).toEqual([
      'https://a.example/x?y=1',
      'http://b.example/z',
    ]);
  });
});
