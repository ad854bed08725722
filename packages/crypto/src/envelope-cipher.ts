import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** A 32-byte AES-256 master key and the id stored in every envelope it wraps. */
export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface EnvelopeCipher {
  /**
   * Encrypts under a fresh data key wrapped by the active (first) master key.
   * `aad` binds the ciphertext to a context (e.g. the owning user id): decrypting needs the same value.
   */
  encrypt(plaintext: string | Buffer, aad?: string | Buffer): string;
  /** Throws DecryptionError if the envelope is malformed, its key id unknown, or anything was altered. */
  decrypt(envelope: string, aad?: string | Buffer): Buffer;
  /** True when the envelope is not under the active key and should be re-encrypted. */
  needsRotation(envelope: string): boolean;
}

export type DecryptionFailure = 'malformed' | 'unknown-key' | 'authentication-failed';

export class DecryptionError extends Error {
  readonly reason: DecryptionFailure;

  constructor(reason: DecryptionFailure) {
    super(`Decryption failed: ${reason}`);
    this.name = 'DecryptionError';
    this.reason = reason;
  }
}

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_KEY_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;
/** Key ids end up in envelopes, which use '.' as separator. */
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;
// Domain-separates the two GCM uses so a wrapped key can never be replayed as a data ciphertext or vice versa.
const WRAP_CONTEXT = Buffer.from('gatehouse/envelope/v1/key\0');
const DATA_CONTEXT = Buffer.from('gatehouse/envelope/v1/data\0');

function sealGcm(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function openGcm(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const ciphertext = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
  const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new DecryptionError('authentication-failed');
  }
}

function toBuffer(value: string | Buffer | undefined): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

function decodeBase64Url(value: string): Buffer {
  if (!BASE64URL_PATTERN.test(value)) throw new DecryptionError('malformed');
  return Buffer.from(value, 'base64url');
}

function assertValidKeys(keys: readonly EncryptionKey[]): void {
  if (keys.length === 0) throw new Error('createEnvelopeCipher: at least one encryption key is required');
  const seen = new Set<string>();
  for (const [index, { id, key }] of keys.entries()) {
    // An invalid id may be key material pasted in the wrong order, so it is not echoed.
    if (!KEY_ID_PATTERN.test(id)) {
      throw new Error(`Encryption key #${index + 1} needs an id of 1-64 letters, digits, '_' or '-'`);
    }
    if (seen.has(id)) throw new Error(`Encryption key id "${id}" is used twice`);
    if (key.length !== KEY_BYTES)
      throw new Error(`Encryption key "${id}" must be exactly ${KEY_BYTES} bytes`);
    seen.add(id);
  }
}

/**
 * AES-256-GCM envelope encryption for secrets at rest (MFA secrets, webhook signing secrets, provider tokens).
 *
 * Envelope: `v1.<keyId>.<wrappedKey>.<ciphertext>` (base64url parts) where `wrappedKey` is
 * iv ‖ GCM(masterKey, dataKey) ‖ tag and `ciphertext` is iv ‖ GCM(dataKey, plaintext, aad) ‖ tag.
 * Each message gets its own random 32-byte data key, so the master key never encrypts user data directly
 * and random 96-bit IVs stay far below GCM's collision bound. The first key encrypts; every listed key
 * decrypts, so rotating means prepending a new key and re-encrypting (see `needsRotation`) before removing the old.
 */
export function createEnvelopeCipher(keys: readonly EncryptionKey[]): EnvelopeCipher {
  assertValidKeys(keys);
  const byId = new Map(keys.map(({ id, key }) => [id, Buffer.from(key)]));
  const active = keys[0]!;
  const activeKey = byId.get(active.id)!;

  function parse(envelope: string) {
    const parts = envelope.split('.');
    const [version, keyId, wrappedKey, ciphertext] = parts;
    if (parts.length !== 4 || version !== VERSION || !keyId || !wrappedKey || !ciphertext) {
      throw new DecryptionError('malformed');
    }
    const wrapped = decodeBase64Url(wrappedKey);
    const sealed = decodeBase64Url(ciphertext);
    if (wrapped.length !== WRAPPED_KEY_BYTES || sealed.length < IV_BYTES + TAG_BYTES) {
      throw new DecryptionError('malformed');
    }
    return { keyId, wrapped, sealed };
  }

  return {
    encrypt(plaintext, aad) {
      const dataKey = randomBytes(KEY_BYTES);
      try {
        const header = `${VERSION}.${active.id}`;
        const wrapped = sealGcm(activeKey, dataKey, Buffer.concat([WRAP_CONTEXT, Buffer.from(header)]));
        const sealed = sealGcm(dataKey, toBuffer(plaintext), Buffer.concat([DATA_CONTEXT, toBuffer(aad)]));
        return `${header}.${wrapped.toString('base64url')}.${sealed.toString('base64url')}`;
      } finally {
        dataKey.fill(0);
      }
    },

    decrypt(envelope, aad) {
      const { keyId, wrapped, sealed } = parse(envelope);
      const masterKey = byId.get(keyId);
      if (!masterKey) throw new DecryptionError('unknown-key');
      const dataKey = openGcm(
        masterKey,
        wrapped,
        Buffer.concat([WRAP_CONTEXT, Buffer.from(`${VERSION}.${keyId}`)]),
      );
      try {
        return openGcm(dataKey, sealed, Buffer.concat([DATA_CONTEXT, toBuffer(aad)]));
      } finally {
        dataKey.fill(0);
      }
    },

    needsRotation(envelope) {
      return parse(envelope).keyId !== active.id;
    },
  };
}

/**
 * Parses `ENCRYPTION_KEYS`: `id:base64,id:base64,...` (standard or URL-safe base64 of exactly 32 bytes; first
 * is active). Error messages name the key id, never the key material.
 */
export function parseEncryptionKeys(value: string): EncryptionKey[] {
  const keys = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry, index) => {
      const separator = entry.indexOf(':');
      if (separator <= 0) throw new Error(`Encryption key #${index + 1} must look like "<id>:<base64 key>"`);
      const id = entry.slice(0, separator);
      const material = entry.slice(separator + 1);
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material)) {
        throw new Error(`Encryption key "${id}" is not valid base64`);
      }
      return { id, key: Buffer.from(material.replace(/-/g, '+').replace(/_/g, '/'), 'base64') };
    });
  assertValidKeys(keys);
  return keys;
}

/**
 * A 32-byte secret for one purpose (HMAC-signed links, audit pseudonyms), derived with HKDF-SHA256 from the active
 * encryption key, so operators manage one secret. Distinct `purpose` labels give unrelated secrets; rotating the
 * active key changes every derived secret (links signed before stop verifying).
 */
export function deriveSecret(keys: readonly EncryptionKey[], purpose: string): Buffer {
  const active = keys[0];
  if (!active) throw new Error('deriveSecret needs at least one encryption key');
  if (purpose.length === 0) throw new Error('deriveSecret needs a purpose label');
  return Buffer.from(hkdfSync('sha256', active.key, Buffer.alloc(0), `gatehouse:${purpose}`, 32));
}
