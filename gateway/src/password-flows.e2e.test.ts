// Issue #3: password reset and change through the gateway over HTTP, against real PostgreSQL, Redis
// (REDIS_URL) and an SMTP server that captures the mail.
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
const NEW_PASSWORD = 'purple elephant juggles quietly 77';
const THIRD_PASSWORD = 'midnight tram rattles seaward 19';

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) {
  ... on AuthPayload { accessToken refreshToken user { id } } } }`;
const REFRESH = `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`;
const REQUEST = `mutation($e: String!) { requestPasswordReset(email: $e) }`;
const RESET = `mutation($input: ResetPasswordInput!) {
  resetPassword(input: $input) { success fieldErrors { field code message } } }`;
const CHANGE = `mutation($input: ChangePasswordInput!) {
  changePassword(input: $input) { success fieldErrors { field code message } } }`;

interface PasswordPayload {
  success: boolean;
  fieldErrors: { field: string; code: string; message: string }[];
}

const gql = <T = Record<string, unknown>>(
  query: string,
  variables?: Record<string, unknown>,
  token?: string,
) =>
  postGraphQL<T>(supergraph.graphqlUrl, query, {
    ...(variables ? { variables } : {}),
    ...(token ? { token } : {}),
  });

function tokenFromMail(text: string, path: string): string {
  const match = new RegExp(`https://id\\.example\\.test/${path}\\?token=([A-Za-z0-9_%-]+)`).exec(text);
  if (!match?.[1]) throw new Error(`no ${path} link in: ${text}`);
  return decodeURIComponent(match[1]);
}

async function registerAndVerify(email: string): Promise<void> {
  const registered = await gql(`mutation($input: RegisterInput!) { register(input: $input) { accepted } }`, {
    input: { email, password: PASSWORD, name: 'Ada Lovelace' },
  });
  expect(registered.body.data).toEqual({ register: { accepted: true } });
  const mail = await smtp.waitForMail((m) => m.to.includes(email) && /verify/i.test(m.subject));
  const verified = await gql(`mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }`, {
    t: tokenFromMail(mail.text, 'verify-email'),
  });
  expect(verified.body.data).toEqual({ verifyEmail: { emailVerified: true } });
}

async function login(email: string, password = PASSWORD) {
  return gql<{ login: { accessToken: string; refreshToken: string; user: { id: string } } }>(LOGIN, {
    input: { email, password },
  });
}

/** Requests a reset and returns the token of the link mailed after `before` messages. */
async function requestReset(email: string): Promise<string> {
  const before = smtp.messages.length;
  const requested = await gql(REQUEST, { e: email });
  expect(requested.body.data).toEqual({ requestPasswordReset: true });
  const mail = await smtp.waitForMail(
    (m) => smtp.messages.indexOf(m) >= before && m.to.includes(email) && /reset/i.test(m.subject),
  );
  return tokenFromMail(mail.text, 'reset-password');
}

const reset = (token: string, newPassword: string) =>
  gql<{ resetPassword: PasswordPayload }>(RESET, { input: { token, newPassword } });

it('request -> mailed link -> reset: every session ends, the new password signs in, the link is single use', async () => {
  const email = 'reset-ada@example.test';
  await registerAndVerify(email);
  const before = (await login(email)).body.data!.login;

  const token = await requestReset(email);
  const done = await reset(token, NEW_PASSWORD);
  expect(done.body.errors).toBeUndefined();
  expect(done.body.data).toEqual({ resetPassword: { success: true, fieldErrors: [] } });
  await smtp.waitForMail((m) => m.to.includes(email) && /password was changed/i.test(m.subject));

  expect((await gql(REFRESH, { t: before.refreshToken })).body.errors?.[0]?.extensions?.code).toBe(
    'UNAUTHENTICATED',
  );
  expect((await gql(`{ me { id } }`, undefined, before.accessToken)).status).toBe(401);
  expect((await login(email)).body.errors?.[0]?.extensions?.details).toEqual({
    reason: 'INVALID_CREDENTIALS',
  });
  const after = await login(email, NEW_PASSWORD);
  expect(after.body.errors).toBeUndefined();

  const reused = await reset(token, THIRD_PASSWORD);
  expect(reused.body.errors?.[0]?.extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    details: { reason: 'RESET_TOKEN_USED' },
  });
  const garbage = await reset('not-a-token', THIRD_PASSWORD);
  expect(garbage.body.errors?.[0]?.extensions?.details).toEqual({ reason: 'RESET_TOKEN_INVALID' });

  const userId = after.body.data!.login.user.id;
  const actions = await supergraph.db.prisma.auditLog.findMany({
    where: { targetId: userId, action: { in: ['PASSWORD_RESET_REQUESTED', 'PASSWORD_RESET'] } },
    select: { action: true },
  });
  expect(new Set(actions.map((row) => row.action))).toEqual(
    new Set(['PASSWORD_RESET_REQUESTED', 'PASSWORD_RESET']),
  );
  const stored = await supergraph.db.prisma.passwordResetToken.findMany({ where: { userId } });
  expect(stored).toHaveLength(1);
  expect(stored[0]!.tokenHash).not.toBe(token);
  expect(stored[0]!.consumedAt).not.toBeNull();
});

it('a second request makes the first link stop working', async () => {
  const email = 'reset-grace@example.test';
  await registerAndVerify(email);
  const first = await requestReset(email);
  const second = await requestReset(email);
  expect(second).not.toBe(first);

  const stale = await reset(first, NEW_PASSWORD);
  expect(stale.body.errors?.[0]?.extensions?.details).toEqual({ reason: 'RESET_TOKEN_INVALID' });
  const fresh = await reset(second, NEW_PASSWORD);
  expect(fresh.body.data).toEqual({ resetPassword: { success: true, fieldErrors: [] } });
});

it('refuses a weak password and a recently used one per field, and the link keeps working', async () => {
  const email = 'reset-barbara@example.test';
  await registerAndVerify(email);
  const token = await requestReset(email);

  const weak = await reset(token, 'password');
  expect(weak.body.data!.resetPassword.success).toBe(false);
  expect(weak.body.data!.resetPassword.fieldErrors.map((e) => [e.field, e.code])).toEqual(
    expect.arrayContaining([['newPassword', 'PASSWORD_TOO_SHORT']]),
  );
  const current = await reset(token, PASSWORD);
  expect(current.body.data!.resetPassword.fieldErrors).toEqual([
    expect.objectContaining({ field: 'newPassword', code: 'PASSWORD_RECENTLY_USED' }),
  ]);
  expect((await reset(token, NEW_PASSWORD)).body.data!.resetPassword.success).toBe(true);

  // The original password is now one of the last ones: a later reset refuses it too.
  const again = await requestReset(email);
  const history = await reset(again, PASSWORD);
  expect(history.body.data!.resetPassword.fieldErrors).toEqual([
    expect.objectContaining({ code: 'PASSWORD_RECENTLY_USED' }),
  ]);
});

it('refuses an expired link (the KV fast path does not outvote Postgres)', async () => {
  const email = 'reset-linus@example.test';
  await registerAndVerify(email);
  const token = await requestReset(email);
  // The KV entry still has its TTL; Postgres, the record, says the token expired.
  await supergraph.db.prisma.passwordResetToken.updateMany({
    where: { user: { email } },
    data: { expiresAt: new Date(Date.now() - 1000) },
  });
  const expired = await reset(token, NEW_PASSWORD);
  expect(expired.body.errors?.[0]?.extensions).toMatchObject({
    code: 'BAD_USER_INPUT',
    details: { reason: 'RESET_TOKEN_EXPIRED' },
  });
  expect((await login(email)).body.errors).toBeUndefined();
});

it('answers an unknown email the same and sends no mail', async () => {
  const before = smtp.messages.length;
  const unknown = await gql(REQUEST, { e: 'nobody-here@example.test' });
  expect(unknown.body.data).toEqual({ requestPasswordReset: true });
  const malformed = await gql(REQUEST, { e: 'not an email' });
  expect(malformed.body.data).toEqual({ requestPasswordReset: true });

  // A mail for a known address sent afterwards arrives; nothing for the unknown one came before it.
  const email = 'reset-edsger@example.test';
  await registerAndVerify(email);
  await requestReset(email);
  expect(smtp.messages.slice(before).some((m) => m.to.includes('nobody-here@example.test'))).toBe(false);
});

it('changePassword: a wrong current password is refused; success keeps this session and ends the others', async () => {
  const email = 'change-donald@example.test';
  await registerAndVerify(email);
  const mine = (await login(email)).body.data!.login;
  const other = (await login(email)).body.data!.login;

  const anonymous = await gql(CHANGE, { input: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } });
  expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

  const wrong = await gql<{ changePassword: PasswordPayload }>(
    CHANGE,
    { input: { currentPassword: 'not my password at all', newPassword: NEW_PASSWORD } },
    mine.accessToken,
  );
  expect(wrong.body.data!.changePassword).toEqual({
    success: false,
    fieldErrors: [expect.objectContaining({ field: 'currentPassword', code: 'INVALID_CREDENTIALS' })],
  });

  const changed = await gql<{ changePassword: PasswordPayload }>(
    CHANGE,
    { input: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } },
    mine.accessToken,
  );
  expect(changed.body.errors).toBeUndefined();
  expect(changed.body.data).toEqual({ changePassword: { success: true, fieldErrors: [] } });
  await smtp.waitForMail((m) => m.to.includes(email) && /password was changed/i.test(m.subject));

  expect((await gql(`{ me { id } }`, undefined, mine.accessToken)).body.data).toEqual({
    me: { id: mine.user.id },
  });
  expect((await gql(REFRESH, { t: mine.refreshToken })).body.errors).toBeUndefined();
  expect((await gql(`{ me { id } }`, undefined, other.accessToken)).status).toBe(401);
  expect((await login(email, NEW_PASSWORD)).body.errors).toBeUndefined();
});
