import { startFakeTwilio, type FakeTwilioServer } from './twilio';

let twilio: FakeTwilioServer;

beforeAll(async () => {
  twilio = await startFakeTwilio({ accountSid: `AC${'1'.repeat(32)}`, authToken: 'token-1' });
});
afterEach(() => twilio.fail(null));
afterAll(async () => {
  await twilio?.close();
});

function post(
  form: Record<string, string>,
  {
    sid = twilio.accountSid,
    token = twilio.authToken,
    contentType = 'application/x-www-form-urlencoded',
  } = {},
) {
  return fetch(`${twilio.baseUrl}/2010-04-01/Accounts/${sid}/Messages.json`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`,
      'content-type': contentType,
    },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(2000),
  });
}

describe('fake Twilio Messages API', () => {
  it('accepts a message, answers 201 with the message resource and records it', async () => {
    const before = twilio.messages.length;
    const response = await post({ To: '+15558675310', From: '+15017122661', Body: 'Hello there' });
    expect(response.status).toBe(201);
    const resource = (await response.json()) as Record<string, unknown>;
    expect(resource).toMatchObject({
      sid: expect.stringMatching(/^SM[0-9a-f]{32}$/),
      account_sid: twilio.accountSid,
      to: '+15558675310',
      from: '+15017122661',
      body: 'Hello there',
      status: 'queued',
      direction: 'outbound-api',
      date_created: expect.stringMatching(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/),
    });
    expect(twilio.messages).toHaveLength(before + 1);
    expect(twilio.messagesTo('+15558675310').at(-1)).toMatchObject({
      sid: resource.sid,
      body: 'Hello there',
    });
  });

  it('answers 401/20003 to wrong credentials and records nothing', async () => {
    const before = twilio.messages.length;
    const response = await post({ To: '+15558675310', From: '+15017122661', Body: 'x' }, { token: 'wrong' });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      code: 20003,
      message: 'Authenticate',
      more_info: 'https://www.twilio.com/docs/errors/20003',
      status: 401,
    });
    expect(twilio.messages).toHaveLength(before);
  });

  it.each([
    ['no To', { From: '+15017122661', Body: 'x' }, 21604],
    ['a To that is not E.164', { To: '5558675310', From: '+15017122661', Body: 'x' }, 21211],
    ['no From', { To: '+15558675310', Body: 'x' }, 21603],
    ['no Body', { To: '+15558675310', From: '+15017122661' }, 21602],
    ['a 1601-character Body', { To: '+15558675310', From: '+15017122661', Body: 'x'.repeat(1601) }, 21617],
  ])('refuses %s with 400/%d like Twilio', async (_label, form, code) => {
    const response = await post(form);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code, status: 400 });
  });

  it('reads only form-encoded bodies and knows only its own account', async () => {
    const json = await post({ To: '+15558675310' }, { contentType: 'application/json' });
    expect(((await json.json()) as { code: number }).code).toBe(21604);
    const otherAccount = await fetch(
      `${twilio.baseUrl}/2010-04-01/Accounts/AC${'2'.repeat(32)}/Messages.json`,
      {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${twilio.accountSid}:${twilio.authToken}`).toString('base64')}`,
        },
      },
    );
    expect(otherAccount.status).toBe(404);
  });

  it('fails on demand: an HTTP error, a hang and a dropped connection', async () => {
    twilio.fail({ status: 503 });
    const unavailable = await post({ To: '+15558675310', From: '+15017122661', Body: 'x' });
    expect(unavailable.status).toBe(503);
    expect(await unavailable.json()).toMatchObject({ status: 503, code: 20500 });

    twilio.fail('hang');
    await expect(
      fetch(`${twilio.baseUrl}/2010-04-01/Accounts/${twilio.accountSid}/Messages.json`, {
        method: 'POST',
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toThrow();

    twilio.fail('disconnect');
    await expect(post({ To: '+15558675310', From: '+15017122661', Body: 'x' })).rejects.toThrow();
    expect(twilio.requests).toBeGreaterThanOrEqual(3);
  });
});
