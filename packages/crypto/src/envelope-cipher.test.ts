import { randomBytes } from 'node:crypto';
import {
  DecryptionError,
  createEnvelopeCipher,
  deriveSecret,
  parseEncryptionKeys,
  type EncryptionKey,
} from './envelope-cipher';

const oldKey: EncryptionKey = { id: 'k1', key: randomBytes(32) };
const newKey: EncryptionKey = { id: 'k2', key: randomBytes(32) };

function expectDecryptionError(run: () => unknown, reason: DecryptionError['reason']): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptionError);
    expect((error as DecryptionError).reason).toBe(reason);
    return;
  }
  throw new Error('expected a DecryptionError');
}

/** Flips one bit of the base64url part at `index` (1 = key id, 2 = wrapped key, 3 = ciphertext). */
function tamper(envelope: string, index: number, byte = 20): string {
  const parts = envelope.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[byte] = bytes[byte]! ^ 1;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('createEnvelopeCipher', () => {
  const cipher = createEnvelopeCipher([oldKey]);

  it('round-trips strings and binary data', () => {
    const envelope = cipher.encrypt('JBSWY3DPEHPK3PXP');
    expect(envelope).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(envelope).not.toContain('JBSWY3DPEHPK3PXP');
    expect(cipher.decrypt(envelope).toString('utf8')).toBe('JBSWY3DPEHPK3PXP');

    const binary = randomBytes(100);
    expect(cipher.decrypt(cipher.encrypt(binary)).equals(binary)).toBe(true);
    expect(cipher.decrypt(cipher.encrypt('')).length).toBe(0);
  });

  it('uses a fresh data key and IV for every message', () => {
    expect(cipher.encrypt('same')).not.toBe(cipher.encrypt('same'));
  });

  it('binds the ciphertext to its AAD', () => {
    const envelope = cipher.encrypt('totp-secret', 'user:1');
    expect(cipher.decrypt(envelope, 'user:1').toString()).toBe('totp-secret');
    expectDecryptionError(() => cipher.decrypt(envelope, 'user:2'), 'authentication-failed');
    expectDecryptionError(() => cipher.decrypt(envelope), 'authentication-failed');
  });

  it('detects tampering with the wrapped key or the ciphertext', () => {
    const envelope = cipher.encrypt('webhook-signing-secret');
    expectDecryptionError(() => cipher.decrypt(tamper(envelope, 2)), 'authentication-failed');
    expectDecryptionError(() => cipher.decrypt(tamper(envelope, 3)), 'authentication-failed');
    expectDecryptionError(() => cipher.decrypt(tamper(envelope, 3, 0)), 'authentication-failed');
  });

  it('rejects malformed envelopes and unknown key ids', () => {
    const envelope = cipher.encrypt('x');
    expectDecryptionError(() => cipher.decrypt('garbage'), 'malformed');
    expectDecryptionError(() => cipher.decrypt(envelope.replace(/^v1/, 'v9')), 'malformed');
    expectDecryptionError(() => cipher.decrypt(`${envelope}.extra`), 'malformed');
    expectDecryptionError(() => cipher.decrypt(envelope.replace('.k1.', '.k1!.')), 'unknown-key');
    expectDecryptionError(() => cipher.decrypt(envelope.slice(0, -30)), 'malformed');
    const truncated = cipher.encrypt('a longer plaintext').slice(0, -2);
    expectDecryptionError(() => cipher.decrypt(truncated), 'authentication-failed');
    expectDecryptionError(() => cipher.decrypt(envelope.replace('.k1.', '.nope.')), 'unknown-key');
  });

  it('does not let an envelope be moved to another key id', () => {
    const both = createEnvelopeCipher([newKey, { id: 'k1-copy', key: oldKey.key }]);
    const envelope = cipher.encrypt('secret');
    expectDecryptionError(() => both.decrypt(envelope.replace('.k1.', '.k1-copy.')), 'authentication-failed');
  });

  it('keeps decrypting with old keys after rotation and encrypts with the active key', () => {
    const before = cipher.encrypt('mfa-secret', 'user:1');
    const rotated = createEnvelopeCipher([newKey, oldKey]);

    expect(rotated.decrypt(before, 'user:1').toString()).toBe('mfa-secret');
    expect(rotated.needsRotation(before)).toBe(true);

    const after = rotated.encrypt('mfa-secret', 'user:1');
    expect(after.startsWith('v1.k2.')).toBe(true);
    expect(rotated.needsRotation(after)).toBe(false);
    expectDecryptionError(() => cipher.decrypt(after, 'user:1'), 'unknown-key');
  });

  it('refuses invalid key sets', () => {
    expect(() => createEnvelopeCipher([])).toThrow(/at least one/);
    expect(() => createEnvelopeCipher([{ id: 'k1', key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(() => createEnvelopeCipher([oldKey, { id: 'k1', key: randomBytes(32) }])).toThrow(/twice/);
    expect(() => createEnvelopeCipher([{ id: 'has.dot', key: randomBytes(32) }])).toThrow(/id/);
  });
});

describe('parseEncryptionKeys', () => {
  it('parses a comma list with the active key first, accepting base64 and base64url', () => {
    const a = randomBytes(32);
    const b = Buffer.alloc(32, 0xfb); // encodes with '+'/'/' in base64 and '-'/'_' in base64url
    const keys = parseEncryptionKeys(` k2:${a.toString('base64')}, k1:${b.toString('base64url')} ,`);
    expect(keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(keys[0]!.key.equals(a)).toBe(true);
    expect(keys[1]!.key.equals(b)).toBe(true);
  });

  it('rejects wrong sizes, bad base64 and missing ids without echoing key material', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => parseEncryptionKeys(`k1:${short}`)).toThrow('Encryption key "k1" must be exactly 32 bytes');
    expect(() => parseEncryptionKeys('k1:not base64!')).toThrow('Encryption key "k1" is not valid base64');
    const material = randomBytes(32).toString('base64');
    for (const value of [material, `${material}:k1`, '']) {
      let message = '';
      try {
        parseEncryptionKeys(value);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(material);
    }
  });
});

describe('deriveSecret', () => {
  const keys = [
    { id: 'k2', key: Buffer.alloc(32, 2) },
    { id: 'k1', key: Buffer.alloc(32, 1) },
  ];

  it('is stable per purpose, different across purposes, and follows the active key', () => {
    const links = deriveSecret(keys, 'unsubscribe');
    expect(links).toHaveLength(32);
    expect(deriveSecret(keys, 'unsubscribe').equals(links)).toBe(true);
    expect(deriveSecret(keys, 'audit-pseudonym').equals(links)).toBe(false);
    expect(deriveSecret(keys.slice(1), 'unsubscribe').equals(links)).toBe(false);
    // Not the key itself.
    expect(links.equals(keys[0]!.key)).toBe(false);
  });

  it('refuses no keys and an empty purpose', () => {
    expect(() => deriveSecret([], 'x')).toThrow();
    expect(() => deriveSecret(keys, '')).toThrow();
  });
});
