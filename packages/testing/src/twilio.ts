import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An SMS the fake accepted, as Twilio would store it. */
export interface FakeTwilioMessage {
  /** `SM` + 32 hex digits. */
  sid: string;
  accountSid: string;
  to: string;
  /** The `From` number, or null when sent through a messaging service. */
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  dateCreated: Date;
}

/**
 * How the fake misbehaves: an HTTP error in Twilio's JSON shape (e.g. `{ status: 503 }`), `'hang'` (accepts the
 * request and never answers, for client timeouts) or `'disconnect'` (drops the connection).
 */
export type FakeTwilioFailure = { status: number; code?: number; message?: string } | 'hang' | 'disconnect';

/** Credentials the fake accepts. */
export interface FakeTwilioOptions {
  /** Default: a random `AC...` SID. */
  accountSid?: string;
  /** Default: random. */
  authToken?: string;
}

/** A running fake: where it listens, what it received, and its failure switch. */
export interface FakeTwilioServer {
  /** `http://127.0.0.1:<port>`: what a client uses instead of `https://api.twilio.com`. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** Every accepted message, in arrival order. */
  messages: FakeTwilioMessage[];
  /** Every HTTP request received, accepted or not. */
  readonly requests: number;
  /** Messages sent to `to`, in arrival order. */
  messagesTo(to: string): FakeTwilioMessage[];
  /** Every request from now on fails this way, until called with null. */
  fail(failure: FakeTwilioFailure | null): void;
  close(): Promise<void>;
}

/** Twilio's documented limit for one (concatenated) message body. */
const MAX_BODY_LENGTH = 1600;
const E164 = /^\+[1-9]\d{6,14}$/;
const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** RFC 2822 dates, as Twilio writes them: `Tue, 28 Nov 2026 17:05:00 +0000`. */
const rfc2822 = (date: Date) => date.toUTCString().replace('GMT', '+0000');

function messageResource(message: FakeTwilioMessage) {
  const uri = `/2010-04-01/Accounts/${message.accountSid}/Messages/${message.sid}.json`;
  return {
    account_sid: message.accountSid,
    api_version: '2010-04-01',
    body: message.body,
    date_created: rfc2822(message.dateCreated),
    date_sent: null,
    date_updated: rfc2822(message.dateCreated),
    direction: 'outbound-api',
    error_code: null,
    error_message: null,
    from: message.from,
    messaging_service_sid: message.messagingServiceSid,
    num_media: '0',
    num_segments: String(Math.max(1, Math.ceil(message.body.length / 153))),
    price: null,
    price_unit: 'USD',
    sid: message.sid,
    status: 'queued',
    subresource_uris: { media: uri.replace(/\.json$/, '/Media.json') },
    to: message.to,
    uri,
  };
}

/** Twilio's REST error body. */
function twilioError(status: number, code: number, message: string) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

/**
 * A local HTTP server speaking the part of Twilio's Programmable Messaging REST API an SMS sender uses:
 * `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic auth (account SID : auth token) and a
 * form-encoded `To`, `From` (or `MessagingServiceSid`) and `Body`; `201` with the message resource, or Twilio's
 * JSON errors (401/20003 bad credentials, 400/21604 no To, 21211 invalid To, 21603 no From, 21602 no Body,
 * 21617 body too long, 404/20404 anything else). `GET` on the same path lists the messages.
 */
export async function startFakeTwilio(options: FakeTwilioOptions = {}): Promise<FakeTwilioServer> {
  const accountSid = options.accountSid ?? `AC${hex(16)}`;
  const authToken = options.authToken ?? hex(16);
  const messages: FakeTwilioMessage[] = [];
  const state: { requests: number; failure: FakeTwilioFailure | null } = { requests: 0, failure: null };
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;

  const server = http.createServer((req, res) => {
    state.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = (status: number, body: unknown) =>
        res
          .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
          .end(JSON.stringify(body));
      const failure = state.failure;
      if (failure === 'hang') return;
      if (failure === 'disconnect') return void req.socket.destroy();
      if (failure) {
        return reply(
          failure.status,
          twilioError(
            failure.status,
            failure.code ?? 20500,
            failure.message ?? 'An internal server error has occurred',
          ),
        );
      }

      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.headers.authorization !== expectedAuth) {
        return reply(401, twilioError(401, 20003, 'Authenticate'));
      }
      const match = MESSAGES_PATH.exec(path);
      if (!match || match[1] !== accountSid || (req.method !== 'POST' && req.method !== 'GET')) {
        return reply(404, twilioError(404, 20404, `The requested resource ${path} was not found`));
      }
      if (req.method === 'GET') {
        return reply(200, { messages: messages.map(messageResource), page: 0, page_size: 50 });
      }

      const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      const form = new URLSearchParams(isForm ? Buffer.concat(chunks).toString('utf8') : '');
      const to = form.get('To') ?? '';
      const from = form.get('From') || null;
      const messagingServiceSid = form.get('MessagingServiceSid') || null;
      const body = form.get('Body') ?? '';
      if (!to) return reply(400, twilioError(400, 21604, "A 'To' phone number is required."));
      if (!E164.test(to)) return reply(400, twilioError(400, 21211, `Invalid 'To' Phone Number: ${to}`));
      if (!from && !messagingServiceSid) {
        return reply(400, twilioError(400, 21603, "A 'From' phone number is required."));
      }
      if (!body) return reply(400, twilioError(400, 21602, 'Message body is required.'));
      if (body.length > MAX_BODY_LENGTH) {
        return reply(
          400,
          twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.'),
        );
      }
      const message: FakeTwilioMessage = {
        sid: `SM${hex(16)}`,
        accountSid,
        to,
        from,
        messagingServiceSid,
        body,
        dateCreated: new Date(),
      };
      messages.push(message);
      reply(201, messageResource(message));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    accountSid,
    authToken,
    messages,
    get requests() {
      return state.requests;
    },
    messagesTo: (to) => messages.filter((message) => message.to === to),
    fail(failure) {
      state.failure = failure;
    },
    async close() {
      // Hanging requests would keep close() waiting forever.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
