// Issue #6 through the gateway: the admin user list with fields of three subgraphs, and an impersonation whose
// every audit row names the administrator, readable in the audit trail (access-control) and ended at once.
import { decodeJwt } from 'jose';
import { seed } from '@gatehouse/db';
import { postGraphQL } from '@gatehouse/service/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

let supergraph: Supergraph;
const ids = { admin: '', alice: '', support: '' };
const tokens = { admin: '', support: '', alice: '' };

beforeAll(async () => {
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      const summary = await seed(prisma, {
        adminEmail: 'admin@example.test',
        adminPassword: 'not used by this test',
        hashPassword: async () => 'not-a-real-hash',
      });
      ids.admin = summary.admin.id;
      const role = async (name: string) => (await prisma.role.findUniqueOrThrow({ where: { name } })).id;
      ids.alice = (
        await prisma.user.create({
          data: {
            email: 'alice@example.test',
            status: 'ACTIVE',
            emailVerified: true,
            profile: { create: { displayName: 'Alice Liddell' } },
            roles: { create: { roleId: await role('member') } },
          },
        })
      ).id;
      ids.support = (
        await prisma.user.create({
          data: {
            email: 'support@example.test',
            status: 'ACTIVE',
            emailVerified: true,
            roles: { create: { roleId: await role('support') } },
          },
        })
      ).id;
    },
  });
  const sign = (userId: string, roles: string[]) => supergraph.signer.sign({ userId, roles });
  tokens.admin = await sign(ids.admin, ['admin']);
  tokens.support = await sign(ids.support, ['support']);
  tokens.alice = await sign(ids.alice, ['member']);
});

afterAll(async () => {
  await supergraph?.close();
});

type Body<T> = {
  data?: T | null;
  errors?: { extensions?: { code?: string; details?: { reason?: string } } }[];
};
const gql = async <T = Record<string, unknown>>(query: string, variables: object, token: string) => {
  const response = await postGraphQL<T>(supergraph.graphqlUrl, query, {
    variables: variables as Record<string, unknown>,
    token,
  });
  return { status: response.status, body: response.body as Body<T> };
};

const LIST = `query ($filter: AdminUserFilter) {
  adminUsers(filter: $filter) { edges { node { id email status mfaEnabled roles { name } } } }
}`;

it('lists users with their roles from access-control for users:read holders only', async () => {
  const support = await gql<{ adminUsers: { edges: { node: unknown }[] } }>(
    LIST,
    { filter: { search: 'liddell' } },
    tokens.support,
  );
  expect(support.body.errors).toBeUndefined();
  expect(support.body.data?.adminUsers.edges).toEqual([
    {
      node: {
        id: ids.alice,
        email: 'alice@example.test',
        status: 'ACTIVE',
        mfaEnabled: false,
        roles: [{ name: 'member' }],
      },
    },
  ]);
  const member = await gql(LIST, {}, tokens.alice);
  expect(member.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
});

it('impersonates: the token acts as the user, every row it writes names the administrator, and it ends at once', async () => {
  const started = await gql<{ impersonate: { accessToken: string; sessionId: string } }>(
    `mutation ($id: ID!) { impersonate(userId: $id, reason: "Ticket 77: cannot see invoices") {
       accessToken sessionId } }`,
    { id: ids.alice },
    tokens.admin,
  );
  expect(started.body.errors).toBeUndefined();
  const { accessToken, sessionId } = started.body.data!.impersonate;
  expect(decodeJwt(accessToken)).toMatchObject({ sub: ids.alice, act: { sub: ids.admin }, sid: sessionId });

  const me = await gql<{ me: { id: string; roles: { name: string }[] } }>(
    '{ me { id roles { name } } }',
    {},
    accessToken,
  );
  expect(me.body).toEqual({ data: { me: { id: ids.alice, roles: [{ name: 'member' }] } } });
  // Issue #14: impersonation is read-only; a mutation works only when reviewed and allowed (endImpersonation).
  // Signing the user out everywhere and burning their quota were allowed before.
  for (const mutation of [
    'mutation { revokeOtherSessions }',
    'mutation { recordUsage(metric: "api_calls", quantity: 1) { used } }',
    'mutation { updateProfile(input: { displayName: "Hijacked" }) { __typename } }',
    'mutation { changePassword(input: { currentPassword: "x", newPassword: "a long new passphrase" }) { success } }',
  ]) {
    const refused = await gql(mutation, {}, accessToken);
    expect({ mutation, errors: refused.body.errors?.map((error) => error.extensions) }).toEqual({
      mutation,
      errors: [
        expect.objectContaining({ code: 'FORBIDDEN', details: { reason: 'IMPERSONATION_FORBIDDEN' } }),
      ],
    });
  }

  const ended = await gql('mutation { endImpersonation }', {}, accessToken);
  expect(ended.body).toEqual({ data: { endImpersonation: true } });
  expect((await gql('{ me { id } }', {}, accessToken)).status).toBe(401);

  // The audit trail (access-control) shows the impersonation by the administrator, start to end.
  const audit = await gql<{
    auditLogs: {
      edges: { node: { action: string; actorUserId: string; impersonatorUserId: string | null } }[];
    };
  }>(
    `query ($f: AuditLogFilter) { auditLogs(filter: $f) { edges { node { action actorUserId impersonatorUserId } } } }`,
    { f: { targetId: ids.alice } },
    tokens.admin,
  );
  expect(audit.body.errors).toBeUndefined();
  const actions = audit.body.data!.auditLogs.edges.map((edge) => edge.node);
  expect(actions).toEqual([
    { action: 'IMPERSONATION_ENDED', actorUserId: ids.alice, impersonatorUserId: ids.admin },
    { action: 'IMPERSONATION_STARTED', actorUserId: ids.admin, impersonatorUserId: null },
  ]);
  const byImpersonator = await gql<{ auditLogs: { edges: unknown[] } }>(
    `query ($f: AuditLogFilter) { auditLogs(filter: $f) { edges { node { action } } } }`,
    { f: { impersonatorUserId: ids.admin } },
    tokens.admin,
  );
  expect(byImpersonator.body.data?.auditLogs.edges).toHaveLength(1);
});
