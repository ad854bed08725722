// Issue #4: multi-factor authentication through the gateway over HTTP, against real PostgreSQL, Redis, an SMTP
// server and a local Twilio-compatible SMS API. TOTP codes come from an independent RFC 6238 implementation
// (@gatehouse/testing's totp, checked against the RFC's test vectors), never from the code under test.
import { createPasswordHasher, OWASP_ARGON2ID } from '@gatehouse/crypto';
import { METRIC_NAMES } from '@gatehouse/service';
import { postGraphQL } from '@gatehouse/service/testing';
import {
  deleteRedisKeys,
  parseOtpauthUri,
  startFakeTwilio,
  startTestSmtpServer,
  totp,
  type FakeTwilioServer,
  type TestSmtpServer,
} from '@gatehouse/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const PASSWORD = 'correct horse battery staple 42';
const USERS = ['ada', 'grace', 'edsger', 'barbara', 'alan', 'katherine', 'margaret', 'frances', 'radia'].map(
  (name) => `${name}@example.test`,
);

let smtp: TestSmtpServer;
let twilio: FakeTwilioServer;
let supergraph: Supergraph;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  twilio = await startFakeTwilio();
  const passwordHash = await createPasswordHasher(OWASP_ARGON2ID).hash(PASSWORD);
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      await prisma.user.createMany({
        data: USERS.map((email) => ({ email, status: 'ACTIVE' as const, emailVerified: true, passwordHash })),
      });
    },
    identityEnv: {
      SMTP_URL: smtp.url,
      SMS_PROVIDER: 'twilio',
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_FROM: '+15005550006',
      TWILIO_BASE_URL: twilio.baseUrl,
    },
  });
});

afterAll(async () => {
  await supergraph?.close();
  await twilio?.close();
  await smtp?.close();
});

interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; details?: { reason?: string } };
}

const gql = async <T = Record<string, unknown>>(
  query: string,
  variables?: Record<string, unknown>,
  token?: string,
) => {
  const response = await postGraphQL<T>(supergraph.graphqlUrl, query, {
    ...(variables ? { variables } : {}),
    ...(token ? { token } : {}),
  });
  return response.body as { data?: T | null; errors?: GraphQLErrorShape[] };
};

const reasonOf = (body: { errors?: GraphQLErrorShape[] }) => body.errors?.[0]?.extensions?.details?.reason;
const codeOf = (body: { errors?: GraphQLErrorShape[] }) => body.errors?.[0]?.extensions?.code;

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) {
  __typename
  ... on AuthPayload { accessToken user { email } }
  ... on MfaChallenge { mfaToken methods expiresAt } } }`;
const VERIFY = `mutation($t: String!, $c: String!) { verifyMfa(mfaToken: $t, code: $c) {
  accessToken backupCodesRemaining user { email } } }`;

type LoginData = {
  login:
    | { __typename: 'AuthPayload'; accessToken: string; user: { email: string } }
    | { __typename: 'MfaChallenge'; mfaToken: string; methods: string[]; expiresAt: string };
};
type VerifyData = {
  verifyMfa: { accessToken: string; backupCodesRemaining: number | null; user: { email: string } };
};

async function login(email: string, password = PASSWORD) {
  const body = await gql<LoginData>(LOGIN, { input: { email, password } });
  if (!body.data) throw new Error(`login failed: ${JSON.stringify(body.errors)}`);
  return body.data.login;
}

async function accessToken(email: string): Promise<string> {
  const result = await login(email);
  if (result.__typename !== 'AuthPayload') throw new Error('expected tokens');
  return result.accessToken;
}

async function challenge(email: string) {
  const result = await login(email);
  if (result.__typename !== 'MfaChallenge')
    throw new Error(`expected an MFA challenge, got ${result.__typename}`);
  return result;
}

/** Enrolls an authenticator app for the user and returns its secret and the backup codes. */
async function enableTotp(token: string) {
  const enrolled = await gql<{ enrollTotp: { secret: string; otpauthUri: string; qrCode: string } }>(
    `mutation($p: String) { enrollTotp(password: $p) { secret otpauthUri qrCode } }`,
    { p: PASSWORD },
    token,
  );
  const { secret } = enrolled.data!.enrollTotp;
  const confirmCode = totp(secret);
  const confirmed = await gql<{ confirmTotp: { mfaEnabled: boolean; backupCodes: string[] | null } }>(
    `mutation($c: String!) { confirmTotp(code: $c) { mfaEnabled backupCodes } }`,
    { c: confirmCode },
    token,
  );
  expect(confirmed.errors).toBeUndefined();
  return {
    secret,
    confirmCode,
    backupCodes: confirmed.data!.confirmTotp.backupCodes!,
    enrolled: enrolled.data!.enrollTotp,
  };
}

/** A code of the next 30-second step: accepted (window ±1) and never a replay of the current one. */
const nextCode = (secret: string) => totp(secret, { time: Date.now() / 1000 + 30 });

it('TOTP: enroll with a QR code, confirm, then sign-in needs the code; codes and challenges work once', async () => {
  const email = USERS[0]!;
  const token = await accessToken(email);
  const { secret, confirmCode, backupCodes, enrolled } = await enableTotp(token);

  // What an authenticator app scans: a PNG whose otpauth URI carries the same secret, SHA1, 6 digits, 30 s.
  expect(enrolled.qrCode).toMatch(/^data:image\/png;base64,/);
  const png = Buffer.from(enrolled.qrCode.split(',')[1]!, 'base64');
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const uri = parseOtpauthUri(enrolled.otpauthUri);
  expect(uri).toMatchObject({
    type: 'totp',
    secret,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    account: email,
  });
  expect(backupCodes).toHaveLength(10);
  expect(new Set(backupCodes).size).toBe(10);

  const status = await gql<{
    myMfa: { enabled: boolean; factors: { type: string }[]; backupCodesRemaining: number };
  }>(`{ myMfa { enabled factors { type } backupCodesRemaining } }`, undefined, token);
  expect(status.data!.myMfa).toEqual({
    enabled: true,
    factors: [{ type: 'TOTP' }],
    backupCodesRemaining: 10,
  });

  // The password alone no longer signs in.
  const pending = await challenge(email);
  expect(pending.methods).toEqual(expect.arrayContaining(['TOTP', 'BACKUP_CODE']));
  // The code used to confirm the app is spent: replaying it is refused.
  const replay = await gql(VERIFY, { t: pending.mfaToken, c: confirmCode });
  expect(reasonOf(replay)).toBe('MFA_CODE_REUSED');

  const code = nextCode(secret);
  const verified = await gql<VerifyData>(VERIFY, { t: pending.mfaToken, c: code });
  expect(verified.errors).toBeUndefined();
  expect(verified.data!.verifyMfa).toMatchObject({ backupCodesRemaining: null, user: { email } });
  const me = await gql(`{ me { email } }`, undefined, verified.data!.verifyMfa.accessToken);
  expect(me.data).toEqual({ me: { email } });

  // The challenge was used up, and so was the code.
  expect(reasonOf(await gql(VERIFY, { t: pending.mfaToken, c: code }))).toBe('MFA_CHALLENGE_INVALID');
  const again = await challenge(email);
  expect(reasonOf(await gql(VERIFY, { t: again.mfaToken, c: code }))).toMatch(/^MFA_CODE_(INVALID|REUSED)$/);
});

it('five wrong codes end the challenge and count toward the lockout', async () => {
  const email = USERS[1]!;
  const { secret } = await enableTotp(await accessToken(email));
  const pending = await challenge(email);
  for (let i = 0; i < 5; i++) {
    const wrong = await gql(VERIFY, {
      t: pending.mfaToken,
      c: '000000' === nextCode(secret) ? '111111' : '000000',
    });
    expect(codeOf(wrong)).toBe('UNAUTHENTICATED');
  }
  // Even the right code cannot revive the challenge.
  expect(reasonOf(await gql(VERIFY, { t: pending.mfaToken, c: nextCode(secret) }))).toBe(
    'MFA_CHALLENGE_INVALID',
  );
  // Five failures lock the account (LOGIN_MAX_FAILURES): the right password is refused, and the owner is mailed.
  const locked = await gql(LOGIN, { input: { email, password: PASSWORD } });
  expect(reasonOf(locked)).toBe('INVALID_CREDENTIALS');
  await smtp.waitForMail((m) => m.to.includes(email) && /locked/i.test(m.subject));
});

it('backup codes work once each and report how many remain; regenerating needs the password', async () => {
  const email = USERS[2]!;
  const token = await accessToken(email);
  const { backupCodes } = await enableTotp(token);

  const first = await challenge(email);
  const used = await gql<VerifyData>(VERIFY, { t: first.mfaToken, c: backupCodes[0] });
  expect(used.errors).toBeUndefined();
  expect(used.data!.verifyMfa.backupCodesRemaining).toBe(9);

  const second = await challenge(email);
  expect(codeOf(await gql(VERIFY, { t: second.mfaToken, c: backupCodes[0] }))).toBe('UNAUTHENTICATED');

  const REGENERATE = `mutation($p: String!) { regenerateBackupCodes(password: $p) }`;
  const refused = await gql(REGENERATE, { p: 'not my password at all' }, token);
  expect(refused.data ?? null).toBeNull();
  expect(refused.errors).toHaveLength(1);
  const regenerated = await gql<{ regenerateBackupCodes: string[] }>(REGENERATE, { p: PASSWORD }, token);
  const fresh = regenerated.data!.regenerateBackupCodes;
  expect(fresh).toHaveLength(10);
  // The old codes stopped working, the new ones work.
  const third = await challenge(email);
  expect(codeOf(await gql(VERIFY, { t: third.mfaToken, c: backupCodes[1] }))).toBe('UNAUTHENTICATED');
  const withFresh = await gql<VerifyData>(VERIFY, { t: third.mfaToken, c: fresh[0] });
  expect(withFresh.data!.verifyMfa.backupCodesRemaining).toBe(9);
});

it('SMS: enroll a phone with a texted code, then sign in with a texted code; at most 3 sends per 5 minutes', async () => {
  const email = USERS[3]!;
  const phone = '+14155550123';
  const token = await accessToken(email);
  const codeIn = (body: string) => /\b(\d{6})\b/.exec(body)?.[1] ?? '';

  const sent = await gql<{ enrollSmsMfa: { destination: string; expiresAt: string } }>(
    `mutation($p: String!, $pw: String) { enrollSmsMfa(phoneNumber: $p, password: $pw) { destination expiresAt } }`,
    { p: phone, pw: PASSWORD },
    token,
  );
  expect(sent.errors).toBeUndefined();
  expect(sent.data!.enrollSmsMfa.destination).not.toContain('55501');
  expect(sent.data!.enrollSmsMfa.destination).toMatch(/0123$/);
  const enrollText = twilio.messagesTo(phone).at(-1)!;
  const confirmed = await gql<{ confirmSmsMfa: { mfaEnabled: boolean; backupCodes: string[] | null } }>(
    `mutation($c: String!) { confirmSmsMfa(code: $c) { mfaEnabled backupCodes } }`,
    { c: codeIn(enrollText.body) },
    token,
  );
  expect(confirmed.data!.confirmSmsMfa).toMatchObject({ mfaEnabled: true });
  expect(confirmed.data!.confirmSmsMfa.backupCodes).toHaveLength(10);

  const pending = await challenge(email);
  expect(pending.methods).toContain('SMS');
  const SEND = `mutation($t: String!) { sendMfaCode(mfaToken: $t, method: SMS) { destination } }`;
  // The enrollment text counts toward the limit of 3 sends per 5 minutes.
  expect((await gql(SEND, { t: pending.mfaToken })).errors).toBeUndefined();
  const signInText = twilio.messagesTo(phone).at(-1)!;
  expect((await gql(SEND, { t: pending.mfaToken })).errors).toBeUndefined();
  const limited = await gql(SEND, { t: pending.mfaToken });
  expect(codeOf(limited)).toBe('RATE_LIMITED');
  expect(reasonOf(limited)).toBe('MFA_CODE_SEND_LIMIT');

  // Only the newest code counts; an older one is refused.
  const newest = codeIn(twilio.messagesTo(phone).at(-1)!.body);
  if (codeIn(signInText.body) !== newest) {
    expect(codeOf(await gql(VERIFY, { t: pending.mfaToken, c: codeIn(signInText.body) }))).toBe(
      'UNAUTHENTICATED',
    );
  }
  const verified = await gql<VerifyData>(VERIFY, { t: pending.mfaToken, c: newest });
  expect(verified.errors).toBeUndefined();
  expect(verified.data!.verifyMfa.user.email).toBe(email);
});

it('email codes through the mail worker, and disableMfa needs the password and a code and mails a notice', async () => {
  const email = USERS[4]!;
  const token = await accessToken(email);
  const mailedCode = async (after: number) => {
    const mail = await smtp.waitForMail(
      (m) => m.to.includes(email) && /\b\d{6}\b/.test(m.text) && smtp.messages.indexOf(m) >= after,
    );
    return /\b(\d{6})\b/.exec(mail.text)![1]!;
  };

  let mark = smtp.messages.length;
  const ENROLL_EMAIL = `mutation($p: String) { enrollEmailMfa(password: $p) { destination } }`;
  expect((await gql(ENROLL_EMAIL, { p: PASSWORD }, token)).errors).toBeUndefined();
  const confirmed = await gql<{ confirmEmailMfa: { mfaEnabled: boolean } }>(
    `mutation($c: String!) { confirmEmailMfa(code: $c) { mfaEnabled } }`,
    { c: await mailedCode(mark) },
    token,
  );
  expect(confirmed.data).toEqual({ confirmEmailMfa: { mfaEnabled: true } });

  const pending = await challenge(email);
  expect(pending.methods).toContain('EMAIL');
  mark = smtp.messages.length;
  expect(
    (
      await gql(`mutation($t: String!) { sendMfaCode(mfaToken: $t, method: EMAIL) { destination } }`, {
        t: pending.mfaToken,
      })
    ).errors,
  ).toBeUndefined();
  const verified = await gql<VerifyData>(VERIFY, { t: pending.mfaToken, c: await mailedCode(mark) });
  expect(verified.errors).toBeUndefined();
  const current = verified.data!.verifyMfa.accessToken;

  const DISABLE = `mutation($p: String!, $c: String!) { disableMfa(password: $p, code: $c) }`;
  // A wrong password or a wrong code leaves MFA on.
  expect((await gql(DISABLE, { p: 'wrong password entirely', c: '123456' }, current)).errors).toHaveLength(1);
  const pendingForDisable = await gql(ENROLL_EMAIL, { p: PASSWORD }, current);
  expect(pendingForDisable.errors).toHaveLength(1); // already enrolled
  const backup = await gql<{ regenerateBackupCodes: string[] }>(
    `mutation($p: String!) { regenerateBackupCodes(password: $p) }`,
    { p: PASSWORD },
    current,
  );
  const disabled = await gql(DISABLE, { p: PASSWORD, c: backup.data!.regenerateBackupCodes[0] }, current);
  expect(disabled.errors).toBeUndefined();
  expect(disabled.data).toEqual({ disableMfa: true });
  await smtp.waitForMail((m) => m.to.includes(email) && /(disabled|turned off)/i.test(m.subject));

  // Signing in needs only the password again, and the factors are gone.
  const after = await login(email);
  expect(after.__typename).toBe('AuthPayload');
  const status = await gql<{ myMfa: { enabled: boolean; factors: unknown[]; backupCodesRemaining: number } }>(
    `{ myMfa { enabled factors { type } backupCodesRemaining } }`,
    undefined,
    current,
  );
  expect(status.data!.myMfa).toEqual({ enabled: false, factors: [], backupCodesRemaining: 0 });
});

it('refuses MFA management without an access token or the password, and a malformed code without counting it', async () => {
  const anonymous = await gql(`mutation { enrollTotp(password: "x") { secret } }`);
  expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
  const email = USERS[5]!;
  // An access token alone cannot add a factor (a stolen token must not lock the owner out).
  const token = await accessToken(email);
  expect(reasonOf(await gql(`mutation { enrollTotp { secret } }`, undefined, token))).toBe(
    'INVALID_CREDENTIALS',
  );
  const wrong = await gql(
    `mutation { enrollTotp(password: "not the password, sorry") { secret } }`,
    undefined,
    token,
  );
  expect(reasonOf(wrong)).toBe('INVALID_CREDENTIALS');
  expect((await gql(`{ myMfa { enabled } }`, undefined, token)).data).toEqual({ myMfa: { enabled: false } });
  const { secret } = await enableTotp(await accessToken(email));
  const pending = await challenge(email);
  const malformed = await gql(VERIFY, { t: pending.mfaToken, c: '<script>' });
  expect(malformed.errors).toHaveLength(1);
  expect(JSON.stringify(malformed)).not.toMatch(/at \w+ \(|node_modules/);
  const verified = await gql<VerifyData>(VERIFY, { t: pending.mfaToken, c: nextCode(secret) });
  expect(verified.errors).toBeUndefined();
});

// Issue #14: wrong codes fed the password's failure count, which a correct password clears, so "4 wrong codes, sign
// in again, 4 more" never locked the account nor mailed its owner.
describe('second-factor lockout (issue #14)', () => {
  const wrongCode = (secret: string) => {
    const valid = [-30, 0, 30].map((s) => totp(secret, { time: Date.now() / 1000 + s }));
    return ['000000', '111111', '222222'].find((code) => !valid.includes(code))!;
  };
  const lockMails = (email: string) =>
    smtp.messages.filter((m) => m.to.includes(email) && /locked/i.test(m.subject));

  it('4 wrong codes, sign in again with the right password, 4 more: the account locks and the owner is mailed', async () => {
    const email = USERS[6]!;
    const { secret } = await enableTotp(await accessToken(email));
    const first = await challenge(email);
    for (const remaining of [4, 3, 2, 1]) {
      const wrong = await gql(VERIFY, { t: first.mfaToken, c: wrongCode(secret) });
      expect(wrong.errors?.[0]?.extensions).toMatchObject({
        code: 'UNAUTHENTICATED',
        details: { reason: 'MFA_CODE_INVALID', attemptsRemaining: remaining },
      });
    }
    // The right password still leads to a challenge, but it buys no fresh guesses.
    const second = await challenge(email);
    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push(reasonOf(await gql(VERIFY, { t: second.mfaToken, c: wrongCode(secret) })));
    }
    expect(answers).toEqual(Array(4).fill('MFA_CHALLENGE_INVALID'));
    // Locked: even the right password is refused (as sign-in always answers a lock), and the owner was told once.
    expect(reasonOf(await gql(LOGIN, { input: { email, password: PASSWORD } }))).toBe('INVALID_CREDENTIALS');
    await smtp.waitForMail((m) => m.to.includes(email) && /locked/i.test(m.subject));
    expect(lockMails(email)).toHaveLength(1);
  });

  it('the count survives a Redis flush', async () => {
    if (!supergraph.redis) throw new Error('REDIS_URL must be set: this test flushes a real Redis');
    const email = USERS[7]!;
    const { secret } = await enableTotp(await accessToken(email));
    const first = await challenge(email);
    for (let i = 0; i < 4; i++) {
      expect(reasonOf(await gql(VERIFY, { t: first.mfaToken, c: wrongCode(secret) }))).toBe(
        'MFA_CODE_INVALID',
      );
    }
    // Everything this supergraph keeps in Redis is gone: the challenge, its counter, the password's KV counter.
    await deleteRedisKeys(supergraph.redis.url, supergraph.redis.prefix);
    expect(reasonOf(await gql(VERIFY, { t: first.mfaToken, c: wrongCode(secret) }))).toBe(
      'MFA_CHALLENGE_INVALID',
    );
    const second = await challenge(email);
    expect(reasonOf(await gql(VERIFY, { t: second.mfaToken, c: wrongCode(secret) }))).toBe(
      'MFA_CHALLENGE_INVALID',
    );
    expect(reasonOf(await gql(LOGIN, { input: { email, password: PASSWORD } }))).toBe('INVALID_CREDENTIALS');
    await smtp.waitForMail((m) => m.to.includes(email) && /locked/i.test(m.subject));
  });

  it('the login metric counts a challenge as a challenge, not a success', async () => {
    const email = USERS[8]!;
    const { secret } = await enableTotp(await accessToken(email));
    const logins = async (outcome: string, method: string) => {
      const metric = await supergraph.identityMetrics.business.logins.get();
      expect(metric.name).toBe(METRIC_NAMES.logins);
      return (
        metric.values.find((v) => v.labels.outcome === outcome && v.labels.method === method)?.value ?? 0
      );
    };
    const before = {
      success: await logins('success', 'password'),
      challenged: await logins('mfa_required', 'password'),
      viaMfa: await logins('success', 'mfa'),
    };
    const pending = await challenge(email);
    expect(await logins('success', 'password')).toBe(before.success);
    expect(await logins('mfa_required', 'password')).toBe(before.challenged + 1);
    // The sign-in succeeds with the second factor, and is counted there.
    expect((await gql(VERIFY, { t: pending.mfaToken, c: nextCode(secret) })).errors).toBeUndefined();
    expect(await logins('success', 'mfa')).toBe(before.viaMfa + 1);
  });
});
