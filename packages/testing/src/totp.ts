import { createHmac } from 'node:crypto';

/**
 * An independent RFC 4226 (HOTP) / RFC 6238 (TOTP) implementation on node:crypto alone, so tests can compute
 * the codes an authenticator app shows without trusting the library the code under test uses.
 */

/** HMAC algorithms RFC 6238 names. */
export type OtpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * Decodes RFC 4648 base32 as authenticator apps accept it: case-insensitive, `=` padding and spaces ignored.
 * @throws Error on a character outside the alphabet.
 */
export function decodeBase32(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value < 0) throw new Error(`decodeBase32: "${char}" is not a base32 character`);
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >>> bits) & 0xff);
    }
    buffer &= (1 << bits) - 1;
  }
  return Buffer.from(bytes);
}

/** RFC 4648 base32 without padding (what otpauth URIs carry). */
export function encodeBase32(data: Buffer): string {
  let output = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      output += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) output += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return output;
}

/** Parameters of {@link hotp}. */
export interface HotpOptions {
  /** Default 6. */
  digits?: number;
  /** Default SHA1. */
  algorithm?: OtpAlgorithm;
}

/** RFC 4226 section 5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits. */
export function hotp(key: Buffer, counter: number | bigint, options: HotpOptions = {}): string {
  const { digits = 6, algorithm = 'SHA1' } = options;
  if (!Number.isInteger(digits) || digits < 1 || digits > 10) throw new RangeError('digits must be 1-10');
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm.toLowerCase(), key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary =
    ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** Parameters of {@link totp}: HOTP's plus the clock. */
export interface TotpOptions extends HotpOptions {
  /** Unix time in seconds (fractions allowed). Default: now. */
  time?: number;
  /** Time step X in seconds. Default 30. */
  step?: number;
  /** T0, Unix time in seconds. Default 0. */
  epoch?: number;
}

/** RFC 6238 time step T = floor((time - T0) / X). */
export function totpStep(options: Pick<TotpOptions, 'time' | 'step' | 'epoch'> = {}): number {
  const { time = Date.now() / 1000, step = 30, epoch = 0 } = options;
  return Math.floor((time - epoch) / step);
}

/**
 * The TOTP code for `secret` at `options.time`.
 * @param secret the raw key, or its base32 text (as in an otpauth URI)
 */
export function totp(secret: Buffer | string, options: TotpOptions = {}): string {
  const key = typeof secret === 'string' ? decodeBase32(secret) : secret;
  return hotp(key, totpStep(options), options);
}

/** The parts of an `otpauth://totp/...` key URI (Google Authenticator key URI format). */
export interface OtpauthUri {
  type: 'totp' | 'hotp';
  /** The decoded label, e.g. `Gatehouse:ada@example.com`. */
  label: string;
  /** The label's issuer prefix, when it has one. */
  labelIssuer: string | null;
  /** The account part of the label. */
  account: string;
  secret: string;
  issuer: string | null;
  algorithm: OtpAlgorithm;
  digits: number;
  period: number;
}

/** Parses a key URI the way an authenticator app does (defaults: SHA1, 6 digits, 30 s). */
export function parseOtpauthUri(uri: string): OtpauthUri {
  const url = new URL(uri);
  if (url.protocol !== 'otpauth:') throw new Error('not an otpauth: URI');
  const type = url.hostname;
  if (type !== 'totp' && type !== 'hotp') throw new Error(`unknown OTP type "${type}"`);
  const label = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const colon = label.indexOf(':');
  const secret = url.searchParams.get('secret');
  if (!secret) throw new Error('the URI has no secret');
  const algorithm = (url.searchParams.get('algorithm') ?? 'SHA1').toUpperCase();
  if (algorithm !== 'SHA1' && algorithm !== 'SHA256' && algorithm !== 'SHA512') {
    throw new Error(`unknown algorithm "${algorithm}"`);
  }
  return {
    type,
    label,
    labelIssuer: colon >= 0 ? label.slice(0, colon) : null,
    account: colon >= 0 ? label.slice(colon + 1) : label,
    secret,
    issuer: url.searchParams.get('issuer'),
    algorithm,
    digits: Number(url.searchParams.get('digits') ?? 6),
    period: Number(url.searchParams.get('period') ?? 30),
  };
}
