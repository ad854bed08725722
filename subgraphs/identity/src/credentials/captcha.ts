import { ServiceUnavailableError } from '@gatehouse/errors';
import { CredentialErrorCode } from './error-codes';

export interface CaptchaVerifier {
  /**
   * True when the provider accepted the token, false when it rejected it (or the token is empty).
   * @throws CaptchaUnavailableError when the provider could not be asked: callers fail closed.
   */
  verify(token: string, remoteIp?: string): Promise<boolean>;
}

export type CaptchaProvider = 'none' | 'hcaptcha' | 'recaptcha' | 'turnstile';

/** The documented server-side verification endpoints. */
export const CAPTCHA_VERIFY_URLS: Readonly<Record<Exclude<CaptchaProvider, 'none'>, string>> = Object.freeze({
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
});

export interface CaptchaVerifierOptions {
  /** 'none' (the embedded default) accepts everything without a network call. */
  provider: CaptchaProvider;
  /** The provider's server-side secret key; required unless provider is 'none'. */
  secret?: string;
  /** Overrides the provider's endpoint (tests point it at a local fake). */
  verifyUrl?: string;
  /** Default 5000 ms. */
  timeoutMs?: number;
  /** reCAPTCHA v3 only: a token whose `score` is below this (or missing) is rejected. */
  minScore?: number;
}

/** The provider could not be reached or answered nonsense; `details.reason` is CAPTCHA_UNAVAILABLE. */
export class CaptchaUnavailableError extends ServiceUnavailableError {
  constructor(cause?: unknown) {
    super('CAPTCHA verification is unavailable, please try again later', {
      cause,
      details: { reason: CredentialErrorCode.CAPTCHA_UNAVAILABLE },
    });
  }
}

/** Tokens are a few hundred bytes; anything far larger is not a token and not worth sending. */
const MAX_TOKEN_LENGTH = 4096;

interface SiteverifyResponse {
  success?: unknown;
  score?: unknown;
}

export function createCaptchaVerifier(options: CaptchaVerifierOptions): CaptchaVerifier {
  const { provider, timeoutMs = 5000, minScore } = options;
  if (provider === 'none') return { verify: async () => true };

  const secret = options.secret;
  if (!secret) throw new Error(`CAPTCHA provider "${provider}" needs a secret`);
  const verifyUrl = options.verifyUrl ?? CAPTCHA_VERIFY_URLS[provider];
  const checkScore = provider === 'recaptcha' && minScore !== undefined;

  return {
    async verify(token, remoteIp) {
      if (!token || token.length > MAX_TOKEN_LENGTH) return false;
      const form = new URLSearchParams({ secret, response: token });
      if (remoteIp) form.set('remoteip', remoteIp);

      let body: SiteverifyResponse;
      try {
        const response = await fetch(verifyUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form,
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (response.status !== 200) {
          throw new Error(`CAPTCHA provider answered HTTP ${response.status}`);
        }
        body = (await response.json()) as SiteverifyResponse;
      } catch (error) {
        throw new CaptchaUnavailableError(error);
      }
      if (typeof body !== 'object' || body === null || typeof body.success !== 'boolean') {
        throw new CaptchaUnavailableError(new Error('CAPTCHA provider answered without a boolean "success"'));
      }
      if (!body.success) return false;
      if (checkScore) return typeof body.score === 'number' && body.score >= minScore;
      return true;
    },
  };
}
