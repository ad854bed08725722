import { hashToken } from '@gatehouse/crypto';
import { BACKUP_CODE_COUNT, generateBackupCodes, hashBackupCode, normalizeBackupCode } from './backup-codes';
import { maskEmail, maskPhoneNumber, normalizePhoneNumber } from './destination';

describe('backup codes', () => {
  it('come ten at a time as xxxxx-xxxxx from the unambiguous alphabet, all different', () => {
    const codes = generateBackupCodes();
    expect(codes).toHaveLength(BACKUP_CODE_COUNT);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
    expect(new Set(codes).size).toBe(BACKUP_CODE_COUNT);
  });

  it('use all 32 symbols (no bias toward a subset)', () => {
    const symbols = new Set(generateBackupCodes(200).join('').replace(/-/g, ''));
    expect(symbols.size).toBe(32);
    for (const ambiguous of ['i', 'l', 'o', 'u']) expect(symbols.has(ambiguous)).toBe(false);
  });

  it.each([
    ['ab3cd-9xyz0', 'ab3cd9xyz0'],
    ['AB3CD9XYZ0', 'ab3cd9xyz0'],
    ['  ab3cd - 9xyz0 ', 'ab3cd9xyz0'],
    ['ab3cd-9xyzo', 'ab3cd9xyz0'],
    ['IL3cd-9xyz0', '113cd9xyz0'],
  ])('accepts %j as %s', (typed, normalized) => {
    expect(normalizeBackupCode(typed)).toBe(normalized);
  });

  it.each(['', 'ab3cd-9xyz', 'ab3cd-9xyz01', 'ab3cd-9xyzu', '123456', 'x'.repeat(40)])(
    'refuses %j',
    (typed) => {
      expect(normalizeBackupCode(typed)).toBeNull();
    },
  );

  it('hash per user, so equal codes of two users differ at rest', () => {
    expect(hashBackupCode('u1', 'ab3cd9xyz0')).toBe(hashToken('u1:ab3cd9xyz0'));
    expect(hashBackupCode('u1', 'ab3cd9xyz0')).not.toBe(hashBackupCode('u2', 'ab3cd9xyz0'));
    expect(hashBackupCode('u1', 'ab3cd9xyz0')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('destinations', () => {
  it.each([
    ['+15558674567', '+15558674567'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+1 (555) 867-4567', '+15558674567'],
    ['+49.30.901820', '+4930901820'],
  ])('normalizes %j to E.164', (typed, e164) => {
    expect(normalizePhoneNumber(typed)).toBe(e164);
  });

  it.each(['5558674567', '+0123456789', '+1234', '+1234567890123456', '+1555abc4567', '00441234567890'])(
    'refuses %j',
    (typed) => {
      expect(normalizePhoneNumber(typed)).toBeNull();
    },
  );

  it('masks all but the last four digits of a phone number and the local part of an address', () => {
    expect(maskPhoneNumber('+15558674567')).toBe('+*******4567');
    expect(maskPhoneNumber('+4930901820')).toBe('+******1820');
    expect(maskEmail('alice@example.com')).toBe('a***@example.com');
    expect(maskEmail('a@b.example')).toBe('a***@b.example');
  });
});
