import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AppError, ErrorCode } from '@gatehouse/errors';
import { startFakeTwilio, type FakeTwilioServer } from '@gatehouse/testing';
import { mfaConcern } from './config';
import { MfaErrorCode } from './error-codes';
import {
  SmsUnavailableError,
  createOutboxSmsSender,
  createSmsSender,
  createTwilioSmsSender,
  type SmsOutboxEntry,
} from './sms-sender';

let twilio: FakeTwilioServer;
let outboxDir: string;

beforeAll(async () => {
  twilio = await startFakeTwilio();
  outboxDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-sms-'));
});
afterEach(() => twilio.fail(null));
afterAll(async () => {
  await twilio?.close();
  if (outboxDir) await rm(outboxDir, { recursive: true, force: true });
});

const sender = (overrides: Partial<Parameters<typeof createTwilioSmsSender>[0]> = {}) =>
  createTwilioSmsSender({
    accountSid: twilio.accountSid,
    authToken: twilio.authToken,
    from: '+15017122661',
    baseUrl: `${twilio.baseUrl}/`,
    ...overrides,
  });

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return error;
}

describe('Twilio SMS sender', () => {
  it('posts To, From and Body with Basic auth and returns the message sid', async () => {
    const { id } = await sender().send({ to: '+15558674567', body: '123456 is your code' });
    const message = twilio.messagesTo('+15558674567').at(-1);
    expect(message).toMatchObject({ sid: id, from: '+15017122661', body: '123456 is your code' });
    expect(id).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('fails as SMS_UNAVAILABLE on wrong credentials, an HTTP error, a dropped connection and a timeout', async () => {
    const failures = [
      sender({ authToken: 'wrong' }),
      (() => {
        twilio.fail({ status: 503 });
        return sender();
      })(),
    ];
    for (const failing of failures) {
      const error = await rejection(failing.send({ to: '+15558674567', body: '654321 secret-body' }));
      expect(error).toBeInstanceOf(SmsUnavailableError);
      expect(error).toMatchObject({
        code: ErrorCode.SERVICE_UNAVAILABLE,
        details: { reason: MfaErrorCode.SMS_UNAVAILABLE },
      });
      // Neither the message (it carries the code) nor the credentials end up in the error or its cause.
      const described = `${error.message} ${String((error.cause as Error | undefined)?.message)}`;
      expect(described).not.toMatch(/654321|secret-body|wrong/);
      expect(described).not.toContain(twilio.authToken);
    }

    twilio.fail('disconnect');
    await expect(sender().send({ to: '+15558674567', body: 'x' })).rejects.toBeInstanceOf(
      SmsUnavailableError,
    );

    twilio.fail('hang');
    const started = Date.now();
    await expect(sender({ timeoutMs: 200 }).send({ to: '+15558674567', body: 'x' })).rejects.toBeInstanceOf(
      SmsUnavailableError,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports a number Twilio calls invalid as PHONE_NUMBER_INVALID', async () => {
    const error = await rejection(sender().send({ to: '+1234', body: 'x' }));
    expect(error).toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      details: { reason: MfaErrorCode.PHONE_NUMBER_INVALID },
    });
  });

  it('fails as SMS_UNAVAILABLE when nothing listens', async () => {
    const closed = createTwilioSmsSender({
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      from: '+15017122661',
      baseUrl: 'http://127.0.0.1:1',
    });
    await expect(closed.send({ to: '+15558674567', body: 'x' })).rejects.toBeInstanceOf(SmsUnavailableError);
  });
});

describe('outbox SMS sender', () => {
  it('writes each message as a private JSON file', async () => {
    const dir = path.join(outboxDir, 'nested');
    const { id } = await createOutboxSmsSender({ dir }).send({ to: '+15558674567', body: '123456 is it' });
    const files = await readdir(dir);
    expect(files).toEqual([expect.stringMatching(new RegExp(`-${id}\\.json$`))]);
    const file = path.join(dir, files[0]!);
    const entry = JSON.parse(await readFile(file, 'utf8')) as SmsOutboxEntry;
    expect(entry).toEqual({ id, to: '+15558674567', body: '123456 is it', date: expect.any(String) });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });
});

describe('createSmsSender', () => {
  it('follows SMS_PROVIDER: none offers no SMS, outbox and twilio send', async () => {
    expect(createSmsSender(mfaConcern.parse({}))).toBeNull();

    const outbox = createSmsSender(mfaConcern.parse({ SMS_PROVIDER: 'outbox', SMS_OUTBOX_DIR: outboxDir }));
    await outbox!.send({ to: '+15558670000', body: 'from the outbox' });
    expect((await readdir(outboxDir)).some((name) => name.endsWith('.json'))).toBe(true);

    const viaTwilio = createSmsSender(
      mfaConcern.parse({
        SMS_PROVIDER: 'twilio',
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_FROM: '+15017122661',
        TWILIO_BASE_URL: twilio.baseUrl,
      }),
    );
    await viaTwilio!.send({ to: '+15558671111', body: 'via twilio' });
    expect(twilio.messagesTo('+15558671111')).toHaveLength(1);
  });
});
