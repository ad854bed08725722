import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { z } from 'zod';

/** Building blocks for concerns. Every message states the rule and never repeats the value (it may be secret). */

export function integer(min: number, max: number) {
  const message = `expected an integer ${min}-${max}`;
  return z
    .string({ error: message })
    .trim()
    .regex(/^-?\d+$/, { error: message })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: message }).max(max, { error: message }));
}

export const port = integer(1, 65535);

export const host = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9.:[\]-]+$/, { error: 'must be a hostname or IP address' });

export function url(protocols: readonly string[], message: string) {
  return z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { error: message },
    );
}

export const httpUrl = url(['http:', 'https:'], 'must be an http:// or https:// URL');

// Deliberately strict: one address, no CR/LF/control characters (header injection), no quotes or brackets in
// the display name, so the value can go into a From header as-is.
const MAILBOX = /^(?:[^"<>@,;\\\p{Cc}]+ )?<?[^\s"<>@,;\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?>?$/u;

/** `address@domain` or `Display Name <address@domain>`. */
export const mailbox = z
  .string()
  .trim()
  .refine(
    (value) => {
      if (!MAILBOX.test(value)) return false;
      // Angle brackets come as a pair, and a display name needs them.
      const bracketed = value.endsWith('>');
      return bracketed === value.includes('<') && (bracketed || !value.includes(' '));
    },
    { error: 'must be an e-mail address, optionally with a name: Name <address@example.com>' },
  );

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

function isJwkObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JWT keys: PEM or JSON. Container platforms often store PEM on one line with literal "\n". The full rules
 * (RSA only, 2048+ bits, alg/use) are @gatehouse/service's parsePublicKeys/parsePrivateKey; this check
 * catches pasting mistakes at startup, in the one ConfigError listing every wrong variable.
 */
function jwtKey(kind: 'public' | 'private') {
  const message =
    kind === 'public'
      ? 'must be PEM-encoded SPKI public key(s), a public JWK or a JWKS (JSON)'
      : 'must be a PEM-encoded PKCS#8 private key or a private JWK (JSON)';
  return z
    .string()
    .transform((value) => value.replace(/\\n/g, '\n').trim() + '\n')
    .refine(
      (value) => {
        try {
          if (value.startsWith('{')) {
            const json: unknown = JSON.parse(value);
            const jwks =
              kind === 'public' && isJwkObject(json) && json.keys !== undefined ? json.keys : [json];
            if (!Array.isArray(jwks) || jwks.length === 0) return false;
            return jwks.every((jwk) => {
              if (!isJwkObject(jwk)) return false;
              if (kind === 'private')
                return createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }) && true;
              // A private key in the public variable would spread a secret to every service.
              if (PRIVATE_JWK_MEMBERS.some((member) => jwk[member] !== undefined)) return false;
              return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }) && true;
            });
          }
          const blocks = value.match(PEM_BLOCK) ?? [];
          if (blocks.length === 0 || value.replace(PEM_BLOCK, '').trim() !== '') return false;
          if (kind === 'private' && blocks.length !== 1) return false;
          const header = kind === 'public' ? '-----BEGIN PUBLIC KEY-----' : '-----BEGIN PRIVATE KEY-----';
          return blocks.every((block) => {
            if (!block.startsWith(header)) return false;
            if (kind === 'public') createPublicKey(block);
            else createPrivateKey(block);
            return true;
          });
        } catch {
          return false;
        }
      },
      { error: message },
    );
}

export const publicKeyPem = jwtKey('public');
export const privateKeyPem = jwtKey('private');

const KEY_ENTRY = /^[A-Za-z0-9_-]{1,64}:[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * `id:base64,id:base64` with 32-byte keys and unique ids. Kept as the original string: @gatehouse/crypto's
 * `parseEncryptionKeys` turns it into keys. The checks mirror it so a bad value fails at startup.
 */
export const encryptionKeys = z.string().superRefine((value, ctx) => {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  const ids = new Set<string>();
  if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'must list at least one key' });
  for (const [index, entry] of entries.entries()) {
    const position = `key #${index + 1}`;
    if (!KEY_ENTRY.test(entry)) {
      ctx.addIssue({ code: 'custom', message: `${position} must look like <id>:<base64 of 32 bytes>` });
      continue;
    }
    const [id = '', material = ''] = entry.split(':');
    if (ids.has(id)) ctx.addIssue({ code: 'custom', message: `${position} repeats the id "${id}"` });
    ids.add(id);
    if (Buffer.from(material.replace(/-/g, '+').replace(/_/g, '/'), 'base64').length !== 32) {
      ctx.addIssue({ code: 'custom', message: `${position} ("${id}") must decode to exactly 32 bytes` });
    }
  }
});
