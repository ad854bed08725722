// Issue #14: a guess must be counted before it is checked. The password's lockout read the lock, verified the
// password (argon2id: tens of milliseconds) and only then counted the failure, so a burst of parallel requests all
// found the account unlocked and all had their password verified: far more guesses than the limit. Through the
// gateway over HTTP, against real PostgreSQL and Redis; which guesses were verified is read from the audit log.
import { createPasswordHasher, OWASP_ARGON2ID } from '@gatehouse/crypto';
import { postGraphQL } from '@gatehouse/service/testing';
import { startTestSmtpServer, type TestSmtpServer } from '@gatehouse/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const PASSWORD = 'correct horse battery staple 42';
const PARALLEL = 12;
const USERS = ['sign-in', 'step-up', 'change'].map((name) => `race-${name}@example.test`);

let smtp: TestSmtpServer;
let supergraph: Supergraph;

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  const passwordHash = await createPasswordHasher(OWASP_ARGON2ID).hash(PASSWORD);
  supergraph = await startSupergraph({
    seed: (prisma) =>
      prisma.user.createMany({
        data: USERS.map((email) => ({ email, status: 'ACTIVE' as const, emailVerified: true, passwordHash })),
      }),
    identityEnv: { SMTP_URL: smtp.url },
  });
});

afterAll(async () => {
  await supergraph?.close();
  await smtp?.close();
});

const gql = async (query: string, variables: Record<string, unknown>, token?: string) =>
  (await postGraphQL(supergraph.graphqlUrl, query, { variables, ...(token ? { token } : {}) })).body as {
    data?: Record<string, unknown> | null;
    errors?: { extensions?: { code?: string } }[];
  };

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { __typename ... on AuthPayload { accessToken } } }`;

async function accessToken(email: string): Promise<string> {
  const body = await gql(LOGIN, { input: { email, password: PASSWORD } });
  const login = body.data?.login as { accessToken?: string } | undefined;
  if (!login?.accessToken) throw new Error(`sign-in failed: ${JSON.stringify(body.errors)}`);
  return login.accessToken;
}

async function userId(email: string): Promise<string> {
  return (await supergraph.db.prisma.user.findUniqueOrThrow({ where: { email } })).id;
}

/** The audit reasons of the failures of `action` against the user: WRONG_PASSWORD rows were verified. */
async function failureReasons(id: string, action: string): Promise<Record<string, number>> {
  const rows = await supergraph.db.prisma.auditLog.findMany({
    where: { targetId: id, action },
    select: { metadata: true },
  });
  const counts: Record<string, number> = {};
  for (const row of rows) {
    const metadata = (row.metadata ?? {}) as { reason?: unknown; outcome?: unknown };
    if (metadata.outcome !== 'FAILURE') continue;
    const reason = String(metadata.reason);
    counts[reason] = (counts[reason] ?? 0) + 1;
  }
  return counts;
}

const wrongGuess = (i: number) => `not the password, guess number ${i}`;

async function expectLockMailedOnce(email: string) {
  await smtp.waitForMail((m) => m.to.includes(email) && /locked/i.test(m.subject));
  expect(smtp.messages.filter((m) => m.to.includes(email) && /locked/i.test(m.subject))).toHaveLength(1);
}

it(`sign-in: ${PARALLEL} parallel wrong passwords get 5 verified; the rest are refused as locked`, async () => {
  const email = USERS[0]!;
  const answers = await Promise.all(
    Array.from({ length: PARALLEL }, (_, i) => gql(LOGIN, { input: { email, password: wrongGuess(i) } })),
  );
  expect(answers.every((body) => body.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED')).toBe(true);
  expect(await failureReasons(await userId(email), 'LOGIN_FAILED')).toEqual({
    WRONG_PASSWORD: 5,
    ACCOUNT_LOCKED: PARALLEL - 5,
  });
  await expectLockMailedOnce(email);
});

it(`step-up (current password before adding a factor): ${PARALLEL} parallel wrong passwords get 5 verified`, async () => {
  const email = USERS[1]!;
  const token = await accessToken(email);
  await Promise.all(
    Array.from({ length: PARALLEL }, (_, i) =>
      gql(`mutation($p: String) { enrollTotp(password: $p) { secret } }`, { p: wrongGuess(i) }, token),
    ),
  );
  expect(await failureReasons(await userId(email), 'MFA_FACTOR_ENROLLED')).toEqual({
    WRONG_PASSWORD: 5,
    ACCOUNT_LOCKED: PARALLEL - 5,
  });
  await expectLockMailedOnce(email);
});

it(`changePassword: ${PARALLEL} parallel wrong current passwords get 5 verified`, async () => {
  const email = USERS[2]!;
  const token = await accessToken(email);
  const CHANGE = `mutation($input: ChangePasswordInput!) { changePassword(input: $input) { success } }`;
  const answers = await Promise.all(
    Array.from({ length: PARALLEL }, (_, i) =>
      gql(
        CHANGE,
        { input: { currentPassword: wrongGuess(i), newPassword: 'a brand new passphrase 1234' } },
        token,
      ),
    ),
  );
  expect(answers.every((body) => body.data?.changePassword)).toBe(true);
  expect(await failureReasons(await userId(email), 'PASSWORD_CHANGED')).toEqual({
    WRONG_PASSWORD: 5,
    ACCOUNT_LOCKED: PARALLEL - 5,
  });
  await expectLockMailedOnce(email);
});
