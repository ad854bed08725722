import { constantTimeEqual, generateToken, hashToken } from './tokens';

describe('constantTimeEqual', () => {
  it('compares strings and buffers by content', () => {
    expect(constantTimeEqual('token-value', 'token-value')).toBe(true);
    expect(constantTimeEqual(Buffer.from('abc'), 'abc')).toBe(true);
    expect(constantTimeEqual('token-value', 'token-valuf')).toBe(false);
  });

  it('returns false for different lengths instead of throwing', () => {
    expect(constantTimeEqual('short', 'a much longer value')).toBe(false);
    expect(constantTimeEqual('', 'x')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});

describe('generateToken', () => {
  it('returns unpadded base64url of the requested entropy', () => {
    const token = generateToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(generateToken(48)).toHaveLength(64);
    expect(generateToken()).not.toBe(token);
  });

  it('refuses guessable sizes', () => {
    expect(() => generateToken(8)).toThrow(RangeError);
    expect(() => generateToken(16.5)).toThrow(RangeError);
  });
});

describe('hashToken', () => {
  it('is a deterministic sha256 hex digest', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashToken('abc')).toBe(hashToken('abc'));
    expect(hashToken('abd')).not.toBe(hashToken('abc'));
  });
});
