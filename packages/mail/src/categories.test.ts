import { createHmac, randomUUID } from 'node:crypto';
import {
  MAIL_CATEGORIES,
  NOTIFICATION_CHANNELS,
  defaultPreference,
  hasTemplateCategory,
  isLockedCategory,
  templateCategory,
} from './categories';
import { extractLinks } from './links';
import { escapeHtml, renderMail } from './render';
import { MAIL_TEMPLATE_NAMES } from './templates';
import { createUnsubscribeTokens, UNSUBSCRIBE_TOKEN_TTL_SECONDS } from './unsubscribe-token';

describe('mail categories', () => {
  it.each(MAIL_TEMPLATE_NAMES)('%s has an explicit category (add it to categories.ts)', (template) => {
    expect(hasTemplateCategory(template)).toBe(true);
    expect(MAIL_CATEGORIES).toContain(templateCategory(template));
  });

  it('classifies sign-in, password and MFA mail as security, and news as product', () => {
    for (const template of [
      'verify-email',
      'password-reset',
      'password-changed',
      'new-sign-in',
      'mfa-code',
    ]) {
      expect(templateCategory(template)).toBe('security');
    }
    expect(templateCategory('welcome')).toBe('account');
    expect(templateCategory('product-update')).toBe('product');
  });

  it('treats an unknown template as security: never suppressed, never an unsubscribe link', () => {
    expect(templateCategory('no-such-template')).toBe('security');
    expect(templateCategory('__proto__')).toBe('security');
    expect(hasTemplateCategory('no-such-template')).toBe(false);
  });

  it('locks security and account, defaults billing on and product (marketing) off on every channel', () => {
    expect(MAIL_CATEGORIES.filter(isLockedCategory)).toEqual(['security', 'account']);
    for (const channel of NOTIFICATION_CHANNELS) {
      expect(defaultPreference(channel, 'security')).toBe(true);
      expect(defaultPreference(channel, 'account')).toBe(true);
      expect(defaultPreference(channel, 'billing')).toBe(true);
      expect(defaultPreference(channel, 'product')).toBe(false);
    }
  });
});

describe('unsubscribe tokens', () => {
  const secret = 'a'.repeat(32) + '-unsubscribe-test-secret';
  const userId = randomUUID();

  it('round-trips the claims of a fresh token, unique per mint', () => {
    const tokens = createUnsubscribeTokens({ secret, now: () => new Date('2026-11-28T12:00:00Z') });
    const first = tokens.mint({ userId, category: 'product' });
    const second = tokens.mint({ userId, category: 'product' });
    expect(first.token).not.toBe(second.token);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(first.claims.expiresAt).toEqual(new Date(Date.parse('2026-11-28T12:00:00Z') + 90 * 86_400_000));
    expect(tokens.verify(first.token)).toEqual({ ok: true, claims: first.claims });
    expect(first.claims).toMatchObject({ userId, channel: 'EMAIL', category: 'product' });
  });

  it('refuses to mint for security and account mail', () => {
    const tokens = createUnsubscribeTokens({ secret });
    expect(() => tokens.mint({ userId, category: 'security' })).toThrow(RangeError);
    expect(() => tokens.mint({ userId, category: 'account' })).toThrow(RangeError);
  });

  it('rejects tampered payloads, tampered signatures, other secrets and garbage as INVALID', () => {
    const tokens = createUnsubscribeTokens({ secret });
    const { token } = tokens.mint({ userId, category: 'billing' });
    const [payload = '', mac = ''] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), cat: 'product' }),
    ).toString('base64url');
    const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    const other = createUnsubscribeTokens({ secret: 'b'.repeat(40) }).mint({ userId, category: 'billing' });
    for (const bad of [
      `${forged}.${mac}`,
      `${payload}.${flipped}`,
      other.token,
      `${payload}.${mac}.x`,
      payload,
      '',
      'not a token',
      'x'.repeat(5000),
    ]) {
      expect(tokens.verify(bad)).toEqual({ ok: false, reason: 'INVALID' });
    }
  });

  it('rejects a validly signed token for a locked category (never minted, so never honoured)', () => {
    const tokens = createUnsubscribeTokens({ secret });
    const { token } = tokens.mint({ userId, category: 'product' });
    const [payload = ''] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const securityPayload = Buffer.from(JSON.stringify({ ...claims, cat: 'security' })).toString('base64url');
    // Re-signed with the real secret, as only someone holding it could.
    const mac = createHmac('sha256', secret)
      .update(`gatehouse.unsubscribe.v1.${securityPayload}`)
      .digest('base64url');
    expect(tokens.verify(`${securityPayload}.${mac}`)).toEqual({ ok: false, reason: 'INVALID' });
  });

  it('reports EXPIRED once the 90 days are over (signature checked first)', () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const tokens = createUnsubscribeTokens({ secret, now: () => now });
    const { token } = tokens.mint({ userId, category: 'product' });
    now = new Date(now.getTime() + (UNSUBSCRIBE_TOKEN_TTL_SECONDS - 1) * 1000);
    expect(tokens.verify(token).ok).toBe(true);
    now = new Date(now.getTime() + 1000);
    expect(tokens.verify(token)).toEqual({ ok: false, reason: 'EXPIRED' });
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    expect(tokens.verify(token.slice(0, -1) + last)).toEqual({ ok: false, reason: 'INVALID' });
  });

  it('insists on a secret of at least 32 bytes', () => {
    expect(() => createUnsubscribeTokens({ secret: 'short' })).toThrow(RangeError);
    expect(() => createUnsubscribeTokens({ secret: Buffer.alloc(31) })).toThrow(RangeError);
    expect(() => createUnsubscribeTokens({ secret: Buffer.alloc(32, 1) })).not.toThrow();
  });
});

describe('renderMail with an unsubscribe link', () => {
  const data = { headline: 'News', paragraphs: ['Something new.'] };
  const unsubscribeUrl = 'https://id.example.com/unsubscribe?token=abc.def&x="y"';

  it('puts the link in the footer of both parts, escaped in HTML', () => {
    const mail = renderMail('product-update', data, { unsubscribeUrl });
    expect(extractLinks(mail.text).at(-1)).toBe('https://id.example.com/unsubscribe?token=abc.def&x=');
    expect(mail.text).toContain(`unsubscribe:\n${unsubscribeUrl}\n`);
    expect(mail.html).toContain(`<a href="${escapeHtml(unsubscribeUrl)}"`);
    expect(mail.html).not.toContain('x="y"');
  });

  it('has no unsubscribe footer without the option, and refuses non-http links', () => {
    expect(renderMail('product-update', data).text).not.toContain('unsubscribe');
    expect(() => renderMail('product-update', data, { unsubscribeUrl: 'javascript:alert(1)' })).toThrow(
      RangeError,
    );
  });
});
