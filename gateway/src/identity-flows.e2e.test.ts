// Issue #3: sign-up, sign-in, refresh rotation and sessions through the gateway over HTTP, against real
// PostgreSQL, Redis (REDIS_URL) and an SMTP server that captures the mail.
import { seed } from '@gatehouse/db';
import { postGraphQL } from '@gatehouse/service/testing';
import { startTestSmtpServer, type TestSmtpServer } from '@gatehouse/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

let smtp: TestSmtpServer;
let supergraph: Supergraph;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  supergraph = await startSupergraph({
    seed: (prisma) => seed(prisma),
    identityEnv: { SMTP_URL: smtp.url, PUBLIC_URL: 'https://id.example.test' },
  });
});

afterAll(async () => {
  await supergraph?.close();
  await smtp?.close();
});

const PASSWORD = 'correct horse battery staple 42';

const REGISTER = `mutation($input: RegisterInput!) {
  register(input: $input) { accepted fieldErrors { field code message } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) {
  __typename ... on AuthPayload { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt user { id email status } } } }`;
const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { id } } }`;

const gql = <T = Record<string, unknown>>(
  query: string,
  variables?: Record<string, unknown>,
  token?: string,
) =>
  postGraphQL<T>(supergraph.graphqlUrl, query, {
    ...(variables ? { variables } : {}),
    ...(token ? { token } : {}),
  });

function tokenFromMail(text: string): string {
  const match = /https:\/\/id\.example\.test\/verify-email\?token=([A-Za-z0-9_%-]+)/.exec(text);
  if (!match?.[1]) throw new Error(`no verification link in: ${text}`);
  return decodeURIComponent(match[1]);
}

async function registerAndVerify(email: string): Promise<void> {
  const registered = await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Ada Lovelace' } });
  expect(registered.body.data).toEqual({ register: { accepted: true, fieldErrors: [] } });
  const mail = await smtp.waitForMail((m) => m.to.includes(email) && /verify/i.test(m.subject));
  const verified = await gql(
    `mutation($t: String!) { verifyEmail(token: $t) { email emailVerified status } }`,
    {
      t: tokenFromMail(mail.text),
    },
  );
  expect(verified.body.errors).toBeUndefined();
  expect(verified.body.data).toEqual({ verifyEmail: { email, emailVerified: true, status: 'ACTIVE' } });
}

interface LoginData {
  login: {
    __typename: string;
    accessToken: string;
    refreshToken: string;
    user: { id: string; email: string };
  };
}

async function login(email: string, password = PASSWORD) {
  return gql<LoginData>(LOGIN, { input: { email, password } });
}

it('register -> verify by mail -> login -> me -> refresh -> replaying the old refresh token ends the session', async () => {
  const email = 'ada@example.test';
  await registerAndVerify(email);

  const signedIn = await login(email);
  expect(signedIn.body.errors).toBeUndefined();
  const first = signedIn.body.data!.login;
  expect(first.__typename).toBe('AuthPayload');
  expect(first.user.email).toBe(email);

  const me = await gql(`{ me { email } }`, undefined, first.accessToken);
  expect(me.body.data).toEqual({ me: { email } });

  const refreshed = await gql<{ refreshToken: { accessToken: string; refreshToken: string } }>(REFRESH, {
    t: first.refreshToken,
  });
  expect(refreshed.body.errors).toBeUndefined();
  const second = refreshed.body.data!.refreshToken;
  expect(second.refreshToken).not.toBe(first.refreshToken);

  const replay = await gql(REFRESH, { t: first.refreshToken });
  expect(replay.body.errors?.[0]?.extensions).toMatchObject({
    code: 'UNAUTHENTICATED',
    details: { reason: 'REFRESH_TOKEN_REUSED' },
  });
  // The whole family is revoked: the successor no longer refreshes, and the access token is refused at once.
  const successor = await gql(REFRESH, { t: second.refreshToken });
  expect(successor.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  const afterRevoke = await gql(`{ me { email } }`, undefined, second.accessToken);
  expect(afterRevoke.status).toBe(401);
});

it('refuses a wrong password generically, and an unverified account only with the right password', async () => {
  const email = 'grace@example.test';
  await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Grace Hopper' } });
  const wrong = await login(email, 'not the password at all');
  expect(wrong.body.errors?.[0]?.extensions).toMatchObject({
    code: 'UNAUTHENTICATED',
    details: { reason: 'INVALID_CREDENTIALS' },
  });
  const unknown = await login('nobody@example.test', PASSWORD);
  expect(unknown.body.errors?.[0]?.extensions?.details).toEqual(wrong.body.errors?.[0]?.extensions?.details);
  const unverified = await login(email);
  expect(unverified.body.errors?.[0]?.extensions).toMatchObject({
    details: { reason: 'ACCOUNT_NOT_VERIFIED' },
  });
});

it('locks the account after 5 failures and mails the owner; the right password is then refused too', async () => {
  const email = 'linus@example.test';
  await registerAndVerify(email);
  for (let i = 0; i < 5; i += 1) {
    const failed = await login(email, `wrong password ${i}`);
    expect(failed.body.errors?.[0]?.extensions?.details).toEqual({ reason: 'INVALID_CREDENTIALS' });
  }
  await smtp.waitForMail((m) => m.to.includes(email) && /lock/i.test(m.subject + m.text));
  const locked = await login(email);
  expect(locked.body.errors?.[0]?.extensions?.details).toEqual({ reason: 'INVALID_CREDENTIALS' });
});

it('answers malformed registration input with per-field errors', async () => {
  const result = await gql(REGISTER, { input: { email: 'not-an-email', password: 'short', name: ' ' } });
  const payload = (result.body.data as { register: { accepted: boolean; fieldErrors: { field: string }[] } })
    .register;
  expect(payload.accepted).toBe(false);
  expect([...new Set(payload.fieldErrors.map((e) => e.field))].sort()).toEqual(['email', 'name', 'password']);
});

it('lists sessions with the current one marked and revokes the others', async () => {
  const email = 'margaret@example.test';
  await registerAndVerify(email);
  const a = (await login(email)).body.data!.login;
  const b = (await login(email)).body.data!.login;
  await login(email);

  const listed = await gql<{ mySessions: { id: string; current: boolean }[] }>(
    `{ mySessions { id current deviceType signedInAt } }`,
    undefined,
    a.accessToken,
  );
  expect(listed.body.errors).toBeUndefined();
  expect(listed.body.data!.mySessions).toHaveLength(3);
  expect(listed.body.data!.mySessions.filter((s) => s.current)).toHaveLength(1);

  const revoked = await gql(`mutation { revokeOtherSessions }`, undefined, a.accessToken);
  expect(revoked.body.data).toEqual({ revokeOtherSessions: 2 });
  const stillMine = await gql(`{ me { email } }`, undefined, a.accessToken);
  expect(stillMine.body.data).toEqual({ me: { email } });
  const other = await gql(`{ me { email } }`, undefined, b.accessToken);
  expect(other.status).toBe(401);
});

it('mails the owner about a sign-in from a new device or country, never about a known one', async () => {
  const email = 'hedy@example.test';
  await registerAndVerify(email);
  const CHROME =
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
  const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
  const loginFrom = async (userAgent: string) => {
    const result = await postGraphQL<LoginData>(supergraph.graphqlUrl, LOGIN, {
      variables: { input: { email, password: PASSWORD } },
      headers: { 'user-agent': userAgent },
    });
    expect(result.body.data?.login.__typename).toBe('AuthPayload');
  };
  const alerts = () =>
    supergraph.db.prisma.emailDelivery.count({ where: { recipient: email, template: 'new-sign-in' } });

  await loginFrom(CHROME); // the first sign-in of the account
  await loginFrom(CHROME.replace('Chrome/120.0.0.0', 'Chrome/121.0.0.0')); // the same browser, updated
  expect(await alerts()).toBe(0);

  await loginFrom(FIREFOX);
  expect(await alerts()).toBe(1);
  const mail = await smtp.waitForMail((m) => m.to.includes(email) && /new sign-in/i.test(m.subject));
  expect(mail.text).toContain('Firefox 121 on Linux (Linux PC)');
  expect(mail.text).toContain('https://id.example.test/account/sessions');
  expect(mail.html).toContain('Firefox 121 on Linux (Linux PC)');

  await loginFrom(FIREFOX);
  expect(await alerts()).toBe(1);
});

it('verification links are single use, and a resend makes older links stop working', async () => {
  const email = 'barbara@example.test';
  await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Barbara Liskov' } });
  const firstMail = await smtp.waitForMail((m) => m.to.includes(email) && /verify/i.test(m.subject));
  const resent = await gql(`mutation($e: String!) { resendVerificationEmail(email: $e) }`, { e: email });
  expect(resent.body.data).toEqual({ resendVerificationEmail: true });
  const secondMail = await smtp.waitForMail(
    (m) => m !== firstMail && m.to.includes(email) && /verify/i.test(m.subject),
  );
  const VERIFY = `mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }`;

  const stale = await gql(VERIFY, { t: tokenFromMail(firstMail.text) });
  expect(stale.body.errors?.[0]?.extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    details: { reason: 'VERIFICATION_TOKEN_INVALID' },
  });
  const fresh = await gql(VERIFY, { t: tokenFromMail(secondMail.text) });
  expect(fresh.body.data).toEqual({ verifyEmail: { emailVerified: true } });
  const replayed = await gql(VERIFY, { t: tokenFromMail(secondMail.text) });
  expect(replayed.body.errors?.[0]?.extensions?.details).toEqual({ reason: 'VERIFICATION_TOKEN_USED' });

  // Unknown addresses get the same answer and no mail.
  const unknown = await gql(`mutation($e: String!) { resendVerificationEmail(email: $e) }`, {
    e: 'nobody-at-all@example.test',
  });
  expect(unknown.body.data).toEqual({ resendVerificationEmail: true });
});

it('registering a taken email answers the same, mails the owner and creates no second account', async () => {
  const email = 'edsger@example.test';
  await registerAndVerify(email);
  const before = smtp.messages.length;
  const again = await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Someone Else' } });
  expect(again.body.data).toEqual({ register: { accepted: true, fieldErrors: [] } });
  await smtp.waitForMail((m) => smtp.messages.indexOf(m) >= before && m.to.includes(email));
  expect(await supergraph.db.prisma.user.count({ where: { email } })).toBe(1);
});

it('logout ends the session of the refresh token; revokeSession ends another one; both are audited', async () => {
  const email = 'donald@example.test';
  await registerAndVerify(email);
  const a = (await login(email)).body.data!.login;
  const b = (await login(email)).body.data!.login;

  const out = await gql(`mutation($t: String) { logout(refreshToken: $t) }`, { t: b.refreshToken });
  expect(out.body.data).toEqual({ logout: true });
  expect((await gql(REFRESH, { t: b.refreshToken })).body.errors?.[0]?.extensions?.code).toBe(
    'UNAUTHENTICATED',
  );
  expect((await gql(`{ me { email } }`, undefined, b.accessToken)).status).toBe(401);

  const c = (await login(email)).body.data!.login;
  const sessions = await gql<{ mySessions: { id: string; current: boolean }[] }>(
    `{ mySessions { id current } }`,
    undefined,
    a.accessToken,
  );
  const other = sessions.body.data!.mySessions.find((s) => !s.current);
  expect(other).toBeDefined();
  const revoked = await gql(
    `mutation($id: ID!) { revokeSession(id: $id) }`,
    { id: other!.id },
    a.accessToken,
  );
  expect(revoked.body.data).toEqual({ revokeSession: true });
  expect((await gql(`{ me { email } }`, undefined, c.accessToken)).status).toBe(401);

  const anonymous = await gql(`mutation { revokeOtherSessions }`);
  expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

  const userId = a.user.id;
  const actions = await supergraph.db.prisma.auditLog.findMany({
    where: { OR: [{ actorUserId: userId }, { targetId: userId }] },
    select: { action: true },
  });
  expect(new Set(actions.map((row) => row.action))).toEqual(
    new Set(['USER_REGISTERED', 'EMAIL_VERIFIED', 'LOGIN_SUCCEEDED', 'SESSION_REVOKED']),
  );
});

it('puts email, roles, permissions (inherited ones included) and sid into the access token', async () => {
  const email = 'frances@example.test';
  await registerAndVerify(email);
  const { prisma } = supergraph.db;
  const user = await prisma.user.findUniqueOrThrow({ where: { email } });
  const admin = await prisma.role.findUniqueOrThrow({ where: { name: 'admin' } });
  await prisma.userRole.create({ data: { userId: user.id, roleId: admin.id } });

  const { accessToken } = (await login(email)).body.data!.login;
  const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as {
    email: string;
    roles: string[];
    permissions: string[];
    sid: unknown;
  };
  expect(claims.email).toBe(email);
  expect(claims.roles).toEqual(['admin', 'member']);
  // admin's own, and support's through admin -> support inheritance.
  expect(claims.permissions).toEqual(expect.arrayContaining(['users:write', 'users:read', 'audit:read']));
  expect(typeof claims.sid).toBe('string');
});

describe('issue #14: re-registration and mail flooding', () => {
  const OTHER_PASSWORD = 'another long passphrase 77';
  const deliveries = (recipient: string, template: string) =>
    supergraph.db.prisma.emailDelivery.count({ where: { recipient, template } });
  const newestVerifyMail = async (email: string, count: number) => {
    // Delivery rows exist at once; the SMTP capture may lag behind the job queue.
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const mails = smtp.messages.filter((m) => m.to.includes(email) && /verify/i.test(m.subject));
      if (mails.length >= count) return mails[mails.length - 1]!;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`fewer than ${count} verification mails to ${email}`);
  };

  it('a second register of an unverified address does not replace the first registrant password', async () => {
    const email = 'alan@example.test';
    const first = await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Alan Turing' } });
    const second = await gql(REGISTER, {
      input: { email, password: OTHER_PASSWORD, name: 'Mallory' },
    });
    expect(second.body).toEqual(first.body);
    // The owner clicks the newest link (the repeat re-sent one).
    const mail = await newestVerifyMail(email, 2);
    const verified = await gql(`mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }`, {
      t: tokenFromMail(mail.text),
    });
    expect(verified.body.data).toEqual({ verifyEmail: { emailVerified: true } });

    expect((await login(email)).body.data?.login.__typename).toBe('AuthPayload');
    expect((await login(email, OTHER_PASSWORD)).body.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'INVALID_CREDENTIALS' },
    });
  });

  it('provider links made before the address was verified do not survive its verification', async () => {
    const email = 'radia@example.test';
    await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Radia Perlman' } });
    const { prisma } = supergraph.db;
    const user = await prisma.user.findUniqueOrThrow({ where: { email } });
    // A link planted while nobody had proved the address (no flow of this release makes one; an older one did).
    await prisma.oAuthAccount.create({
      data: { userId: user.id, provider: 'github', providerAccountId: 'planted-1', email },
    });
    const mail = await newestVerifyMail(email, 1);
    await gql(`mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }`, {
      t: tokenFromMail(mail.text),
    });
    expect(await prisma.oAuthAccount.count({ where: { userId: user.id } })).toBe(0);
  });

  it('repeat registrations re-send at most 3 verification mails per 15 minutes, answering the same', async () => {
    const email = 'kathleen@example.test';
    const answers = [];
    for (let i = 0; i < 5; i += 1) {
      answers.push(
        (await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Kathleen Booth' } })).body,
      );
    }
    expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(
      new Set([JSON.stringify({ data: { register: { accepted: true, fieldErrors: [] } } })]),
    );
    expect(await deliveries(email, 'verify-email')).toBe(3);

    // A verified owner's "someone registered with your address" mail is throttled the same way.
    const verifiedEmail = 'dorothy@example.test';
    await registerAndVerify(verifiedEmail);
    for (let i = 0; i < 5; i += 1) {
      await gql(REGISTER, { input: { email: verifiedEmail, password: PASSWORD, name: 'Dorothy' } });
    }
    // One welcome after verifying, then 3 notices.
    expect(await deliveries(verifiedEmail, 'welcome')).toBe(4);
  });

  it('resendVerificationEmail and requestPasswordReset are throttled per address, with identical answers', async () => {
    const RESEND = `mutation($e: String!) { resendVerificationEmail(email: $e) }`;
    const RESET = `mutation($e: String!) { requestPasswordReset(email: $e) }`;
    const timed = async (query: string, e: string) => {
      const started = Date.now();
      const { body } = await gql(query, { e });
      return { body, ms: Date.now() - started };
    };

    const unverified = 'joan@example.test';
    await gql(REGISTER, { input: { email: unverified, password: PASSWORD, name: 'Joan Clarke' } });
    const resends = [];
    for (let i = 0; i < 5; i += 1) resends.push(await timed(RESEND, unverified));
    const unknownResend = await timed(RESEND, 'nobody-here@example.test');
    for (const { body, ms } of [...resends, unknownResend]) {
      expect(body).toEqual({ data: { resendVerificationEmail: true } });
      // The same timing class whether or not a mail went out (minimum duration 250 ms).
      expect(ms).toBeGreaterThanOrEqual(240);
    }
    // The registration's mail and two resends.
    expect(await deliveries(unverified, 'verify-email')).toBe(3);

    const verified = 'ida@example.test';
    await registerAndVerify(verified);
    const resets = [];
    for (let i = 0; i < 5; i += 1) resets.push(await timed(RESET, verified));
    for (const { body, ms } of resets) {
      expect(body).toEqual({ data: { requestPasswordReset: true } });
      expect(ms).toBeGreaterThanOrEqual(240);
    }
    expect(await deliveries(verified, 'password-reset')).toBe(3);
  });
});
