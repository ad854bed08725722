import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError, ErrorCode, ServiceUnavailableError } from '@gatehouse/errors';
import { DEFAULT_TWILIO_BASE_URL, type MfaConfig } from './config';
import { MfaErrorCode } from './error-codes';

/** One text message. `body` carries a one-time code: never log it. */
export interface SmsMessage {
  /** E.164. */
  to: string;
  body: string;
}

/** Sends text messages. Implementations throw {@link SmsUnavailableError} when the message did not go out. */
export interface SmsSender {
  /** @returns the provider's message id (for support: which message was that). */
  send(message: SmsMessage): Promise<{ id: string }>;
}

/** The SMS provider could not be reached, timed out or refused the message; `details.reason` SMS_UNAVAILABLE. */
export class SmsUnavailableError extends ServiceUnavailableError {
  constructor(cause?: unknown) {
    super('Text messages cannot be sent right now; try again later or use another method', {
      cause,
      details: { reason: MfaErrorCode.SMS_UNAVAILABLE },
    });
  }
}

/** `details.reason` PHONE_NUMBER_INVALID: not E.164 here, or the provider says the number cannot receive SMS. */
export function phoneNumberInvalid(cause?: unknown): AppError {
  return new AppError(
    ErrorCode.BAD_USER_INPUT,
    'Enter a mobile phone number with its country code, e.g. +44…',
    {
      cause,
      details: { reason: MfaErrorCode.PHONE_NUMBER_INVALID },
    },
  );
}

/** Settings of {@link createTwilioSmsSender}. */
export interface TwilioSmsSenderOptions {
  accountSid: string;
  authToken: string;
  /** The sending number, E.164. */
  from: string;
  /** Default `https://api.twilio.com`. */
  baseUrl?: string;
  /** Per request. Default 5000 ms. */
  timeoutMs?: number;
}

/** The fields of Twilio's answer we read: the message `sid` on success, the error `code` otherwise. */
interface TwilioAnswer {
  sid?: unknown;
  code?: unknown;
}

/** Twilio errors that mean "this number cannot get an SMS", not "Twilio is down" (21211 invalid, 21614 not mobile). */
const TWILIO_INVALID_NUMBER_CODES = new Set([21211, 21614]);

/**
 * Sends through Twilio's Programmable Messaging REST API: `POST /2010-04-01/Accounts/{sid}/Messages.json`, HTTP
 * Basic auth, form-encoded `To`/`From`/`Body`, expecting `201` with the message `sid`. A timeout, a network error
 * or any other answer is an {@link SmsUnavailableError}; its cause names the HTTP status and Twilio error code,
 * never the token or the message body.
 */
export function createTwilioSmsSender(options: TwilioSmsSenderOptions): SmsSender {
  const { accountSid, authToken, from, timeoutMs = 5000 } = options;
  const baseUrl = (options.baseUrl ?? DEFAULT_TWILIO_BASE_URL).replace(/\/+$/, '');
  const endpoint = `${baseUrl}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;

  return {
    async send({ to, body }) {
      const { status, answer } = await fetch(endpoint, {
        method: 'POST',
        headers: {
          authorization,
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ To: to, From: from, Body: body }),
        signal: AbortSignal.timeout(timeoutMs),
      }).then(
        async (response) => ({
          status: response.status,
          answer: (await response.json().catch(() => null)) as TwilioAnswer | null,
        }),
        (error: unknown) => {
          // Named by kind (TimeoutError, ECONNREFUSED), never with the request's body or credentials.
          const { name, cause } = error as { name?: string; cause?: { code?: unknown } };
          const kind = typeof cause?.code === 'string' ? cause.code : name;
          throw new SmsUnavailableError(new Error(`Twilio request failed: ${kind ?? 'unknown error'}`));
        },
      );
      const twilioCode = typeof answer?.code === 'number' ? answer.code : null;
      if (status === 201 && typeof answer?.sid === 'string') return { id: answer.sid };
      const cause = new Error(`Twilio answered HTTP ${status} (error ${twilioCode ?? 'none'})`);
      if (status === 400 && twilioCode !== null && TWILIO_INVALID_NUMBER_CODES.has(twilioCode)) {
        throw phoneNumberInvalid(cause);
      }
      throw new SmsUnavailableError(cause);
    },
  };
}

/** A text message as the outbox sender writes it (`<dir>/<timestamp>-<id>.json`). */
export interface SmsOutboxEntry {
  id: string;
  to: string;
  body: string;
  /** ISO 8601. */
  date: string;
}

/**
 * The development sender: writes each message as a JSON file ({@link SmsOutboxEntry}) to `dir` instead of sending
 * it, so a developer can read the code. Directory mode 0700, files 0600 (they hold codes), written atomically.
 */
export function createOutboxSmsSender(options: { dir: string }): SmsSender {
  const { dir } = options;
  let ready: Promise<unknown> | undefined;
  return {
    async send({ to, body }) {
      const date = new Date();
      const id = `OB${randomBytes(16).toString('hex')}`;
      const entry: SmsOutboxEntry = { id, to, body, date: date.toISOString() };
      const file = path.join(dir, `${date.toISOString().replace(/[:.]/g, '-')}-${id}.json`);
      try {
        ready ??= mkdir(dir, { recursive: true, mode: 0o700 });
        await ready;
        const temporary = `${file}.${process.pid}.tmp`;
        await writeFile(temporary, JSON.stringify(entry, null, 2) + '\n', { mode: 0o600 });
        await rename(temporary, file);
      } catch (error) {
        ready = undefined;
        throw new SmsUnavailableError(error);
      }
      return { id };
    },
  };
}

/** The sender SMS_PROVIDER asks for, or null for `none` (SMS is then not offered). */
export function createSmsSender(
  config: Pick<
    MfaConfig,
    | 'SMS_PROVIDER'
    | 'TWILIO_ACCOUNT_SID'
    | 'TWILIO_AUTH_TOKEN'
    | 'TWILIO_FROM'
    | 'TWILIO_BASE_URL'
    | 'SMS_OUTBOX_DIR'
  >,
): SmsSender | null {
  switch (config.SMS_PROVIDER) {
    case 'none':
      return null;
    case 'outbox':
      return createOutboxSmsSender({ dir: config.SMS_OUTBOX_DIR });
    case 'twilio': {
      const { TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM } = config;
      if (!TWILIO_ACCOUNT_SID || !TWILIO_AUTH_TOKEN || !TWILIO_FROM) {
        throw new Error('SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM');
      }
      return createTwilioSmsSender({
        accountSid: TWILIO_ACCOUNT_SID,
        authToken: TWILIO_AUTH_TOKEN,
        from: TWILIO_FROM,
        baseUrl: config.TWILIO_BASE_URL,
      });
    }
  }
}
