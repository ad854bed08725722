import { randomBytes, randomUUID } from 'node:crypto';
import { pseudonymizeUserId } from './pseudonym';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('pseudonymizeUserId', () => {
  const key = Buffer.alloc(32, 7);

  it('is a stable version-8 UUID per user and key, and a known value for a known input', () => {
    const userId = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
    const pseudonym = pseudonymizeUserId(key, userId);
    expect(pseudonym).toMatch(UUID_V8);
    expect(pseudonymizeUserId(key, userId)).toBe(pseudonym);
    expect(pseudonymizeUserId(key, userId.toUpperCase())).toBe(pseudonym);
    // Pinned: a change of the derivation would split every purged user's audit trail in two.
    expect(pseudonym).toBe('ae49c334-48f8-8d36-9feb-580a5ae3b784');
  });

  it('differs between users and between keys, and never equals the user id', () => {
    const ids = Array.from({ length: 200 }, () => randomUUID());
    const pseudonyms = new Set(ids.map((id) => pseudonymizeUserId(key, id)));
    expect(pseudonyms.size).toBe(ids.length);
    for (const id of ids) expect(pseudonyms.has(id)).toBe(false);
    const otherKey = randomBytes(32);
    expect(pseudonymizeUserId(otherKey, ids[0]!)).not.toBe(pseudonymizeUserId(key, ids[0]!));
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => pseudonymizeUserId(Buffer.alloc(31), randomUUID())).toThrow(RangeError);
  });
});
