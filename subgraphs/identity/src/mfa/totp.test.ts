import {
  decodeBase32,
  encodeBase32 as referenceBase32,
  parseOtpauthUri,
  totp as referenceTotp,
} from '@gatehouse/testing';
import { readQrCode } from './qr-reader.test-support';
import {
  encodeBase32,
  generateTotpSecret,
  matchTotpStep,
  qrCodeDataUrl,
  totpKeyUri,
  totpTimeStep,
} from './totp';

// Codes come from @gatehouse/testing's RFC 6238 implementation (checked there against the RFC's vectors), never
// from speakeasy, which is what is under test here.
const code = (secret: string, at: Date) => referenceTotp(secret, { time: at.getTime() / 1000 });

describe('TOTP secrets', () => {
  it('are 160 random bits in unpadded RFC 4648 base32', () => {
    const secrets = Array.from({ length: 50 }, generateTotpSecret);
    for (const secret of secrets) {
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(decodeBase32(secret)).toHaveLength(20);
    }
    expect(new Set(secrets).size).toBe(50);
  });

  it('encode like the reference implementation for every length', () => {
    for (let length = 0; length <= 21; length++) {
      const bytes = Buffer.from(Array.from({ length }, (_, i) => (i * 73 + 41) & 0xff));
      expect(encodeBase32(bytes)).toBe(referenceBase32(bytes));
    }
  });
});

describe('matchTotpStep (speakeasy, window ±1 step)', () => {
  const secret = generateTotpSecret();
  const at = new Date('2031-03-01T12:00:10.000Z');
  const step = totpTimeStep(at);
  const shifted = (steps: number) => new Date(at.getTime() + steps * 30_000);

  it('accepts the current code and returns its time step', () => {
    expect(step).toBe(Math.floor(at.getTime() / 30_000));
    expect(matchTotpStep(secret, code(secret, at), at)).toBe(step);
  });

  it('accepts the previous and the next step, reporting which', () => {
    expect(matchTotpStep(secret, code(secret, shifted(-1)), at)).toBe(step - 1);
    expect(matchTotpStep(secret, code(secret, shifted(1)), at)).toBe(step + 1);
  });

  it('refuses codes two steps away, wrong codes and codes of another secret', () => {
    const candidates = [
      code(secret, shifted(-2)),
      code(secret, shifted(2)),
      code(generateTotpSecret(), at),
      String((Number(code(secret, at)) + 1) % 1_000_000).padStart(6, '0'),
    ].filter((candidate) => ![-1, 0, 1].some((d) => candidate === code(secret, shifted(d))));
    expect(candidates.length).toBeGreaterThanOrEqual(3);
    for (const candidate of candidates) expect(matchTotpStep(secret, candidate, at)).toBeNull();
  });

  it('works with codes that start with zeros', () => {
    // Search a time whose code has a leading zero, so "012345" is not compared as 12345 of 5 digits.
    let t = at;
    while (!code(secret, t).startsWith('0')) t = new Date(t.getTime() + 30_000);
    expect(matchTotpStep(secret, code(secret, t), t)).toBe(totpTimeStep(t));
  });
});

describe('otpauth key URI and QR code', () => {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

  it('spells out label, issuer and parameters, percent-encoding the label parts', () => {
    const uri = totpKeyUri({ issuer: 'Acme Identity', account: 'ada+mfa@example.com', secret });
    expect(uri).toBe(
      'otpauth://totp/Acme%20Identity:ada%2Bmfa%40example.com' +
        `?secret=${secret}&issuer=Acme%20Identity&algorithm=SHA1&digits=6&period=30`,
    );
    expect(parseOtpauthUri(uri)).toEqual({
      type: 'totp',
      label: 'Acme Identity:ada+mfa@example.com',
      labelIssuer: 'Acme Identity',
      account: 'ada+mfa@example.com',
      secret,
      issuer: 'Acme Identity',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    });
  });

  it('renders a PNG QR code that a reader decodes to exactly the URI', async () => {
    const uri = totpKeyUri({ issuer: 'Gatehouse', account: 'grace.hopper@example.com', secret });
    const dataUrl = await qrCodeDataUrl(uri);
    expect(dataUrl).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    const decoded = readQrCode(dataUrl);
    expect(decoded.text).toBe(uri);
    expect(decoded.ecLevel).toBe('M');
    // What an app does with the scan: derive the same codes as the server expects.
    const scanned = parseOtpauthUri(decoded.text);
    const at = new Date('2031-03-01T12:00:00Z');
    expect(matchTotpStep(secret, referenceTotp(scanned.secret, { time: at.getTime() / 1000 }), at)).toBe(
      totpTimeStep(at),
    );
  });
});
