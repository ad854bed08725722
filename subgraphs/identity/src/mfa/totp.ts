import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import speakeasy from 'speakeasy';

/** RFC 6238 parameters every authenticator app supports; changing one breaks every enrolled factor. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Codes of the previous and the next time step are accepted too (clock drift, typing time). */
export const TOTP_WINDOW_STEPS = 1;
/** RFC 4226 section 4 recommends a 160-bit shared secret. */
const SECRET_BYTES = 20;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding, the form otpauth URIs and authenticator apps use. */
export function encodeBase32(data: Buffer): string {
  let output = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of data) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      output += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) output += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return output;
}

/**
 * A fresh shared secret: 20 bytes from the CSPRNG, base32. Not `speakeasy.generateSecret`, which draws ASCII
 * characters from a 62/84-symbol set (about 120-128 bits, unevenly distributed) and calls that the key.
 */
export function generateTotpSecret(): string {
  return encodeBase32(randomBytes(SECRET_BYTES));
}

/**
 * The key URI authenticator apps scan (Google Authenticator key URI format): label `issuer:account`, each part
 * percent-encoded (spaces as %20, which every app decodes; `+` is shown literally by some), the issuer repeated
 * as a parameter, and the parameters spelled out even where they are the defaults.
 */
export function totpKeyUri(input: { issuer: string; account: string; secret: string }): string {
  const { issuer, account, secret } = input;
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = [
    `secret=${secret}`,
    `issuer=${encodeURIComponent(issuer)}`,
    'algorithm=SHA1',
    `digits=${TOTP_DIGITS}`,
    `period=${TOTP_PERIOD_SECONDS}`,
  ].join('&');
  return `otpauth://totp/${label}?${query}`;
}

/** A PNG data URL of a QR code for `text`: error correction M, 4-module quiet zone, 6 px per module. */
export function qrCodeDataUrl(text: string): Promise<string> {
  return QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 4, scale: 6, type: 'image/png' });
}

/** The RFC 6238 time step of `at`. */
export function totpTimeStep(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/**
 * The time step whose code `code` is, within ±{@link TOTP_WINDOW_STEPS} of `at`, or null when it matches none.
 * The caller records the step so the same code (or an older one) is never accepted again.
 * @param code exactly six digits (validate before)
 */
export function matchTotpStep(secret: string, code: string, at: Date): number | null {
  const match = speakeasy.totp.verifyDelta({
    secret,
    encoding: 'base32',
    token: code,
    digits: TOTP_DIGITS,
    step: TOTP_PERIOD_SECONDS,
    window: TOTP_WINDOW_STEPS,
    time: at.getTime() / 1000,
  });
  return match ? totpTimeStep(at) + match.delta : null;
}
