// Issue #6/#8: an administrator lowers a rate limit through `updateSetting(key: "rateLimits")` and the running
// gateway enforces it without a restart (access-control publishes it to the shared store, the gateway reads it on
// `settings.changed`).
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadConfig } from '@gatehouse/config';
import { seed } from '@gatehouse/db';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { createLogger } from '@gatehouse/logger';
import {
  createAccessTokenSigner,
  parsePublicKeys,
  type AccessTokenSigner,
  type HttpService,
} from '@gatehouse/service';
import { TEST_SUBGRAPH_SECRET, generateRsaKeyPair, postGraphQL } from '@gatehouse/service/testing';
import { SETTINGS } from '@gatehouse/settings';
import { waitFor } from '@gatehouse/testing';
import { gatewayConcerns } from './config';
import type { SubgraphUrls } from './gateway';
import {
  createGatewayProtection,
  startRateLimitSettingsReader,
  type ConfiguredGatewayProtection,
  type RateLimitSettingsReader,
} from './protection';
import { startGateway } from './server';
import { SUPERGRAPH_FILE, type SubgraphName } from './subgraphs';
import { startSupergraph, type Supergraph } from './supergraph.test-support';

jest.setTimeout(60_000);

const logger = createLogger({ name: 'rate-limit-settings-e2e', level: 'silent' });
const ISSUER = 'http://127.0.0.1:4000';
const UPDATE = `mutation ($key: String!, $value: String!) { updateSetting(key: $key, value: $value) { key value version } }`;

let supergraph: Supergraph;
let adminId = '';
/** A gateway configured as main() configures it (protection on, RATE_LIMIT_* defaults), over the shared store. */
let gateway: HttpService;
let protection: ConfiguredGatewayProtection;
let reader: RateLimitSettingsReader;
/** The gateway's own connection to the services' bus (the supergraph's, in-process). */
let gatewayEvents: EventBus;
let signer: AccessTokenSigner;

beforeAll(async () => {
  supergraph = await startSupergraph({
    seed: async (prisma) => {
      adminId = (
        await seed(prisma, {
          adminEmail: 'admin@example.test',
          adminPassword: 'not used by this test',
          hashPassword: async () => 'not-a-real-hash',
        })
      ).admin.id;
    },
  });
  // The protected gateway verifies tokens of its own key pair (the reads below never reach a subgraph).
  const keys = generateRsaKeyPair();
  signer = createAccessTokenSigner({
    privateKeyPem: keys.privateKeyPem,
    issuer: ISSUER,
    audience: 'gatehouse',
  });
  const config = loadConfig(gatewayConcerns, { JWT_ISSUER: ISSUER, JWT_PUBLIC_KEY: keys.publicKeyPem });
  protection = createGatewayProtection(
    {
      production: false,
      issuer: ISSUER,
      publicKeys: parsePublicKeys(keys.publicKeyPem),
      gatewayAuth: config.gatewayAuth,
      rateLimit: config.rateLimit,
      queryLimits: config.queryLimits,
      cors: config.cors,
    },
    { kv: supergraph.kv, logger },
  );
  // Its own subscriber connection with Redis, as the gateway process has (same Redis, same prefix).
  gatewayEvents = supergraph.redis
    ? createEventBus({ redisUrl: supergraph.redis.url, prefix: supergraph.redis.prefix, logger })
    : supergraph.events;
  // No periodic re-read: only the settings.changed event can bring the change in time for this test.
  reader = await startRateLimitSettingsReader({
    kv: supergraph.kv,
    events: gatewayEvents,
    target: protection,
    logger,
    refreshIntervalMs: 0,
  });
  gateway = await startGateway({
    supergraphSdl: await readFile(SUPERGRAPH_FILE, 'utf8'),
    subgraphUrls: Object.fromEntries(
      (Object.keys(supergraph.subgraphs) as SubgraphName[]).map((name) => [
        name,
        `${supergraph.subgraphs[name].url}/graphql`,
      ]),
    ) as SubgraphUrls,
    subgraphSecret: TEST_SUBGRAPH_SECRET,
    logger,
    production: false,
    playground: false,
    host: '127.0.0.1',
    port: 0,
    protection,
  });
});

afterAll(async () => {
  await gateway?.stop();
  await reader?.close();
  if (gatewayEvents !== supergraph?.events) await gatewayEvents?.close();
  await supergraph?.close();
});

/** `count` queries of one signed-in user through the protected gateway: their HTTP statuses and error codes. */
async function reads(userId: string, count: number): Promise<string[]> {
  const token = await signer.sign({ userId, roles: ['member'] });
  const outcomes: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const { status, body } = await postGraphQL(`${gateway.url}/graphql`, '{ __typename }', { token });
    outcomes.push(`${status} ${String(body.errors?.[0]?.extensions?.code ?? 'OK')}`);
  }
  return outcomes;
}

it('enforces read.perUser lowered through updateSetting on the running gateway', async () => {
  const before = randomUUID();
  expect(await reads(before, 4)).toEqual(['200 OK', '200 OK', '200 OK', '200 OK']);

  const value = { ...SETTINGS.rateLimits.default, read: { ...SETTINGS.rateLimits.default.read, perUser: 3 } };
  const admin = await supergraph.signer.sign({ userId: adminId, roles: ['admin'] });
  const updated = await postGraphQL(supergraph.graphqlUrl, UPDATE, {
    token: admin,
    variables: { key: 'rateLimits', value: JSON.stringify(value) },
  });
  expect(updated.body.errors).toBeUndefined();
  expect(updated.body.data).toEqual({
    updateSetting: { key: 'rateLimits', value: JSON.stringify(value), version: 1 },
  });
  await waitFor(() => protection.rateLimits.read.perUser === 3, { what: 'the setting at the gateway' });

  expect(await reads(randomUUID(), 4)).toEqual(['200 OK', '200 OK', '200 OK', '429 RATE_LIMITED']);
  // The user who already made 4 reads in this window is past the new limit too.
  expect(await reads(before, 1)).toEqual(['429 RATE_LIMITED']);
});
