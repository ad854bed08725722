// Issue #3: the operator's lockout and session-limit settings reach the sign-in flow (through the gateway).
import { createPasswordHasher, OWASP_ARGON2ID } from '@gatehouse/crypto';
import { postGraphQL } from '@gatehouse/service';
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
        data: ['grace@example.test', 'edsger@example.test'].map((email) => ({
          email,
          status: 'ACTIVE' as const,
          emailVerified: true,
          passwordHash,
        })),
      });
    },
    identityEnv: { SMTP_URL: smtp.url, LOGIN_MAX_FAILURES: '2', SESSION_LIMIT_PER_USER: '1' },
  });
});

afterAll(async () => {
  await supergraph?.close();
  await smtp?.close();
});

const login = (email: string, password = PASSWORD) =>
  postGraphQL<{ login: { accessToken?: string } }>(supergraph.graphqlUrl, LOGIN, {
    variables: { input: { email, password } },
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
