import { createPrivateKey, createPublicKey } from 'node:crypto';
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

/** Container platforms often store PEM keys on one line with literal "\n". */
function pem(kind: 'public' | 'private') {
  const header = kind === 'public' ? '-----BEGIN PUBLIC KEY-----' : '-----BEGIN PRIVATE KEY-----';
  const message =
    kind === 'public' ? 'must be a PEM-encoded SPKI public key' : 'must be a PEM-encoded PKCS#8 private key';
  return z
    .string()
    .transform((value) => value.replace(/\\n/g, '\n').trim() + '\n')
    .refine(
      (value) => {
        if (!value.startsWith(header)) return false;
        try {
          if (kind === 'public') createPublicKey(value);
          else createPrivateKey(value);
          return true;
        } catch {
          return false;
        }
      },
      { error: message },
    );
}

export const publicKeyPem = pem('public');
export const privateKeyPem = pem('private');

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
