import { decodeBase32, encodeBase32, hotp, parseOtpauthUri, totp, totpStep } from './totp';

// RFC 6238 appendix B: the seeds are the ASCII digits repeated to the hash's block-friendly key length.
const SEEDS = {
  SHA1: Buffer.from('12345678901234567890', 'ascii'),
  SHA256: Buffer.from('12345678901234567890123456789012', 'ascii'),
  SHA512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234', 'ascii'),
} as const;

describe('totp (RFC 6238 appendix B test vectors, 8 digits, 30 s steps)', () => {
  it.each([
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ])('T=%d', (time, sha1, sha256, sha512) => {
    expect(totp(SEEDS.SHA1, { time, digits: 8, algorithm: 'SHA1' })).toBe(sha1);
    expect(totp(SEEDS.SHA256, { time, digits: 8, algorithm: 'SHA256' })).toBe(sha256);
    expect(totp(SEEDS.SHA512, { time, digits: 8, algorithm: 'SHA512' })).toBe(sha512);
  });

  it('takes the secret as base32 text too, and defaults to 6 digits', () => {
    const base32 = encodeBase32(SEEDS.SHA1);
    expect(base32).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(totp(base32, { time: 59 })).toBe('287082');
    expect(totp(base32.toLowerCase(), { time: 59 })).toBe('287082');
  });

  it('computes the time step with step and epoch', () => {
    expect(totpStep({ time: 59 })).toBe(1);
    expect(totpStep({ time: 60 })).toBe(2);
    expect(totpStep({ time: 100, step: 60, epoch: 40 })).toBe(1);
  });
});

describe('hotp (RFC 4226 appendix D)', () => {
  it('matches the ten published values', () => {
    const expected = [
      '755224',
      '287082',
      '359152',
      '969429',
      '338314',
      '254676',
      '287922',
      '162583',
      '399871',
      '520489',
    ];
    expect(expected.map((_, counter) => hotp(SEEDS.SHA1, counter))).toEqual(expected);
  });
});

describe('base32 (RFC 4648 section 10 vectors, padding dropped)', () => {
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('%j <-> %s', (plain, encoded) => {
    expect(encodeBase32(Buffer.from(plain))).toBe(encoded);
    expect(decodeBase32(encoded).toString()).toBe(plain);
  });

  it('ignores padding and refuses characters outside the alphabet', () => {
    expect(decodeBase32('MZXW6YQ=').toString()).toBe('foob');
    expect(() => decodeBase32('MZ1W')).toThrow(/not a base32 character/);
  });
});

describe('parseOtpauthUri', () => {
  it('reads label, issuer and parameters with the key URI defaults', () => {
    expect(
      parseOtpauthUri(
        'otpauth://totp/ACME%20Co:john.doe%40email.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co',
      ),
    ).toEqual({
      type: 'totp',
      label: 'ACME Co:john.doe@email.com',
      labelIssuer: 'ACME Co',
      account: 'john.doe@email.com',
      secret: 'JBSWY3DPEHPK3PXP',
      issuer: 'ACME Co',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    });
  });

  it('refuses other schemes and URIs without a secret', () => {
    expect(() => parseOtpauthUri('https://example.com/totp')).toThrow(/otpauth/);
    expect(() => parseOtpauthUri('otpauth://totp/x')).toThrow(/secret/);
  });
});
