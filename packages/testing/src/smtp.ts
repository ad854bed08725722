import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer, type SMTPServerError } from 'smtp-server';

/** A mail as the test SMTP server received it, parsed. */
export interface CapturedMail {
  /** The envelope (MAIL FROM / RCPT TO), not the headers. */
  envelope: { from: string; to: string[] };
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  messageId: string | undefined;
  headers: Map<string, unknown>;
  raw: string;
}

export interface SmtpReply {
  code: number;
  message: string;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>`, or with credentials when the server requires them. */
  url: string;
  port: number;
  /** Every accepted mail, in arrival order. */
  messages: CapturedMail[];
  /** Every DATA transaction, accepted or not. */
  dataCommands: number;
  /** The next `count` messages are received in full, then answered with `reply` (default 451). */
  failNextData(count: number, reply?: SmtpReply): void;
  /** Every message from now on is answered with `reply` (e.g. 550), until called with `undefined`. */
  failAllData(reply: SmtpReply | undefined): void;
  /** Waits until a mail matching `predicate` (default: any) has arrived and returns it. */
  waitForMail(
    predicate?: (mail: CapturedMail) => boolean,
    options?: { timeoutMs?: number },
  ): Promise<CapturedMail>;
  close(): Promise<void>;
}

export interface TestSmtpServerOptions {
  /** Require AUTH with these credentials (plain text on loopback; STARTTLS is disabled). */
  auth?: { user: string; pass: string };
}

const TEMPORARY_FAILURE: SmtpReply = { code: 451, message: 'Requested action aborted: try again later' };

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap((object) => object.value.map((entry) => entry.address ?? '')).filter(Boolean);
}

/**
 * A real SMTP server on 127.0.0.1 (random port) that records what it receives: for tests that send mail
 * through `createSmtpTransport` and follow the links in it. Plain SMTP only (no STARTTLS).
 */
export async function startTestSmtpServer(options: TestSmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: CapturedMail[] = [];
  const failures: SmtpReply[] = [];
  const waiters = new Set<() => void>();
  const state: { dataCommands: number; failAll: SmtpReply | undefined } = {
    dataCommands: 0,
    failAll: undefined,
  };
  const { auth } = options;

  const server = new SMTPServer({
    authOptional: auth === undefined,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(credentials, _session, callback) {
      if (auth && credentials.username === auth.user && credentials.password === auth.pass) {
        return callback(null, { user: credentials.username });
      }
      callback(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      state.dataCommands++;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const failure = failures.shift() ?? state.failAll;
        if (failure) {
          const error: SMTPServerError = Object.assign(new Error(failure.message), {
            responseCode: failure.code,
          });
          return callback(error);
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw)
          .then((parsed) => {
            const text = parsed.text ?? '';
            messages.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
              },
              from: addresses(parsed.from)[0] ?? '',
              to: addresses(parsed.to),
              subject: parsed.subject ?? '',
              text,
              html: typeof parsed.html === 'string' ? parsed.html : '',
              messageId: parsed.messageId,
              headers: parsed.headers,
              raw,
            });
            for (const wake of waiters) wake();
            callback();
          })
          .catch((error: Error) => callback(error));
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Connection errors (a client hanging up mid-session) are part of what tests provoke.
  server.on('error', () => undefined);
  const { port } = server.server.address() as AddressInfo;
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@` : '';

  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    port,
    messages,
    get dataCommands() {
      return state.dataCommands;
    },
    failNextData(count, reply = TEMPORARY_FAILURE) {
      for (let i = 0; i < count; i++) failures.push(reply);
    },
    failAllData(reply) {
      state.failAll = reply;
    },
    async waitForMail(predicate = () => true, { timeoutMs = 5000 } = {}) {
      const found = () => messages.find(predicate);
      const already = found();
      if (already) return already;
      return new Promise<CapturedMail>((resolve, reject) => {
        const wake = () => {
          const mail = found();
          if (!mail) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(mail);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`no matching mail within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
