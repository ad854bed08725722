// Issue #3: the operator's lockout, session-limit and new-sign-in-alert settings reach the sign-in flow (through the gateway).
import { createPasswordHasher, OWASP_ARGON2ID } from '@gatehouse/crypto';
import { postGraphQL } from '@gatehouse/service/testing';
import { startTestSmtpServer, type TestSmtpServer } from '@gatehouse/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const PASSWORD = 'correct horse battery staple 42';
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { ... on AuthPayload { accessToken } } }`;

let smtp: TestSmtpServer;
let supergraph: Supergraph;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  const passwordHash = await createPasswordHasher(OWASP_ARGON2ID).hash(PASSWORD);
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      await prisma.user.createMany({
        data: ['grace@example.test', 'edsger@example.test', 'alan@example.test'].map((email) => ({
          email,
          status: 'ACTIVE' as const,
          emailVerified: true,
          passwordHash,
        })),
      });
    },
    identityEnv: {
      SMTP_URL: smtp.url,
      LOGIN_MAX_FAILURES: '2',
      SESSION_LIMIT_PER_USER: '1',
      NEW_SIGN_IN_ALERT_DAYS: '0',
    },
  });
});

afterAll(async () => {
  await supergraph?.close();
  await smtp?.close();
});

const login = (email: string, password = PASSWORD, userAgent = 'settings-test') =>
  postGraphQL<{ login: { accessToken?: string } }>(supergraph.graphqlUrl, LOGIN, {
    variables: { input: { email, password } },
    headers: { 'user-agent': userAgent },
  });

it('locks after LOGIN_MAX_FAILURES wrong passwords', async () => {
  const email = 'grace@example.test';
  await login(email, 'wrong one');
  await login(email, 'wrong two');
  await smtp.waitForMail((m) => m.to.includes(email) && /lock/i.test(m.subject + m.text));
  const locked = await login(email);
  expect(locked.body.errors?.[0]?.extensions?.details).toEqual({ reason: 'INVALID_CREDENTIALS' });
});

it('ends the least recently used session beyond SESSION_LIMIT_PER_USER', async () => {
  const email = 'edsger@example.test';
  const first = (await login(email)).body.data!.login.accessToken!;
  const second = (await login(email)).body.data!.login.accessToken!;
  const me = (token: string) => postGraphQL(supergraph.graphqlUrl, '{ me { email } }', { token });

  expect((await me(second)).body.data).toEqual({ me: { email } });
  expect((await me(first)).status).toBe(401);
});

it('sends no new sign-in alert with NEW_SIGN_IN_ALERT_DAYS=0', async () => {
  const email = 'alan@example.test';
  const windows =
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
  const linux = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
  expect((await login(email, PASSWORD, windows)).body.data?.login.accessToken).toEqual(expect.any(String));
  expect((await login(email, PASSWORD, linux)).body.data?.login.accessToken).toEqual(expect.any(String));
  expect(await supergraph.db.prisma.emailDelivery.count({ where: { recipient: email } })).toBe(0);
});
