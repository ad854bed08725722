// Issue #6 through the gateway: "API usage by operation". The gateway counts every operation, flushes the counts
// over the event bus, access-control adds them to api_usage_daily, and administrators read them in adminMetrics.
import { seed } from '@gatehouse/db';
import { postGraphQL } from '@gatehouse/service/testing';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

let supergraph: Supergraph;
const tokens = { admin: '', alice: '' };

beforeAll(async () => {
  let adminId = '';
  let aliceId = '';
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      const summary = await seed(prisma, {
        adminEmail: 'admin@example.test',
        adminPassword: 'not used by this test',
        hashPassword: async () => 'not-a-real-hash',
      });
      adminId = summary.admin.id;
      const member = await prisma.role.findUniqueOrThrow({ where: { name: 'member' } });
      aliceId = (
        await prisma.user.create({
          data: { email: 'alice@example.test', status: 'ACTIVE', roles: { create: { roleId: member.id } } },
        })
      ).id;
    },
  });
  tokens.admin = await supergraph.signer.sign({ userId: adminId, roles: ['admin'] });
  tokens.alice = await supergraph.signer.sign({ userId: aliceId, roles: ['member'] });
});

afterAll(async () => {
  await supergraph?.close();
});

interface Usage {
  operation: string;
  type: string;
  requests: number;
  errors: number;
}
const USAGE = `query ReadUsage { adminMetrics { apiUsage { operation type requests errors } } }`;

async function readUsage(token: string) {
  const { body } = await postGraphQL<{ adminMetrics: { apiUsage: Usage[] } }>(supergraph.graphqlUrl, USAGE, {
    token,
  });
  return body;
}

it('counts operations per name, type and outcome for administrators, and refuses them to plain users', async () => {
  for (let i = 0; i < 3; i += 1) {
    const { body } = await postGraphQL(supergraph.graphqlUrl, 'query UsageProbe { plans { code } }');
    expect(body.errors).toBeUndefined();
  }
  // Refused (FORBIDDEN): counted as an error.
  const refused = await readUsage(tokens.alice);
  expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect(refused.data).toBeNull();

  await supergraph.usage.flush();

  // The bus delivers asynchronously: read until access-control has recorded the batch (bounded).
  let usage: Usage[] = [];
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const body = await readUsage(tokens.admin);
    expect(body.errors).toBeUndefined();
    usage = body.data?.adminMetrics.apiUsage ?? [];
    if (usage.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(usage).toEqual([
    { operation: 'UsageProbe', type: 'query', requests: 3, errors: 0 },
    { operation: 'ReadUsage', type: 'query', requests: 1, errors: 1 },
  ]);
});
