// Test-only (excluded from the build): the whole supergraph over one test database, for end-to-end tests.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PrismaClient } from '@gatehouse/db';
import { startAuditEventRelay } from '@gatehouse/audit';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { createKeyValueStore, type KeyValueStore } from '@gatehouse/kv';
import { createLogger } from '@gatehouse/logger';
import { createObjectStorage } from '@gatehouse/storage';
import {
  createAccessTokenSigner,
  createAccessTokenVerifier,
  createServiceKit,
  createServiceMetrics,
  createSessionLivenessQuery,
  createSessionStatusChecker,
  startHttpService,
  type AccessTokenSigner,
  type HttpService,
  type ServiceMetrics,
} from '@gatehouse/service';
import { TEST_SUBGRAPH_SECRET, generateRsaKeyPair } from '@gatehouse/service/testing';
import {
  createTestDatabase,
  deleteRedisKeys,
  testRedisUrl,
  uniqueTestPrefix,
  type TestDatabase,
  testSecrets,
} from '@gatehouse/testing';
import { createApp as createAccessControlApp } from '../../subgraphs/access-control/src/app';
import { createApiUsageRepository, startApiUsageConsumer } from '../../subgraphs/access-control/src/metrics';
import { createApp as createAccountApp } from '../../subgraphs/account/src/app';
import { createApp as createBillingApp } from '../../subgraphs/billing/src/app';
import { loadBillingConfig } from '../../subgraphs/billing/src/config';
import { createBillingServices, type BillingRuntime } from '../../subgraphs/billing/src/runtime';
import { createApp as createIdentityApp } from '../../subgraphs/identity/src/app';
import { loadAccountConfig } from '../../subgraphs/account/src/config';
import { createAccountServices } from '../../subgraphs/account/src/runtime';
import { loadIdentityConfig } from '../../subgraphs/identity/src/config';
import { createIdentityServices } from '../../subgraphs/identity/src/runtime';
import { createGatewayAuthenticator } from './protection/authentication';
import { startGateway } from './server';
import { SUPERGRAPH_FILE, type SubgraphName } from './subgraphs';
import { createUsageRecorder, type UsageRecorder } from './usage-recorder';

process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';

/** Something put between the gateway and one subgraph, such as a proxy that records requests. */
export interface Interposer {
  /** Origin the gateway sends that subgraph's requests to (`/graphql` is appended). */
  url: string;
  close(): Promise<void>;
}

export interface SupergraphOptions {
  /** Writes the rows the tests need into the fresh database, before any service starts. */
  seed?: (prisma: PrismaClient) => Promise<unknown>;
  /** Per subgraph: starts an {@link Interposer} in front of the subgraph listening at `origin`. */
  interpose?: Partial<Record<SubgraphName, (origin: string) => Promise<Interposer>>>;
  /**
   * Extra configuration of identity and account (SMTP_URL, PUBLIC_URL, CAPTCHA_*, ...). Mail goes to a temporary outbox unless
   * SMTP_URL is given; REDIS_URL (when the tests have one) backs the store, bus and queue under a unique prefix.
   */
  identityEnv?: NodeJS.ProcessEnv;
  /** The gateway's port, when a test must know it up front (an OAuth client registration); default: a free one. */
  gatewayPort?: number;
  /** Billing's clock (renewals and dunning are driven by `billing.runDueWork()`, never by a timer, in tests). */
  billingNow?: () => Date;
}

export interface Supergraph {
  db: TestDatabase;
  /** Each subgraph's own HTTP service (stopping one simulates an outage). */
  subgraphs: Record<SubgraphName, HttpService>;
  gateway: HttpService;
  /** The gateway's GraphQL endpoint. */
  graphqlUrl: string;
  /** Issues access tokens the subgraphs accept. */
  signer: AccessTokenSigner;
  /** The ENCRYPTION_KEYS every service of this supergraph was given (random per supergraph). */
  encryptionKeys: string;
  /**
   * The Redis server and key prefix every service's store, bus and queue use (when REDIS_URL is set): deleting
   * the keys under `prefix` (`deleteRedisKeys`) simulates a Redis flush for this supergraph alone.
   */
  redis?: { url: string; prefix: string };
  /** The key/value store identity and every subgraph's session check share (to look at cache entries). */
  kv: KeyValueStore;
  /** Identity's metrics, as its `/metrics` would serve them (the sign-in counters its resolvers increment). */
  identityMetrics: ServiceMetrics;
  /** Billing's process-wide services: `runDueWork()` runs the renewal and dunning jobs once. */
  billing: BillingRuntime;
  /** The event bus every service shares (billing events, settings changes). */
  events: EventBus;
  /** The gateway's API usage recorder (no timer): `flush()` sends its counts to access-control. */
  usage: UsageRecorder;
  /** Stops the gateway, interposers and subgraphs, then drops the database. Call it in afterAll. */
  close(): Promise<void>;
}

/** A port free right now (the gateway binds it moments later; tests run on loopback only). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The gateway (playground on) in front of the four real subgraphs, each on its own free port, over one
 * migrated test schema in PostgreSQL: what a client sees of the federated graph.
 */
export async function startSupergraph(options: SupergraphOptions = {}): Promise<Supergraph> {
  const logger = createLogger({ name: 'supergraph-test', level: 'silent' });
  const keys = generateRsaKeyPair();
  const auth = { issuer: 'http://127.0.0.1:4000', audience: 'gatehouse' };
  const signer = createAccessTokenSigner({ privateKeyPem: keys.privateKeyPem, ...auth });
  const verifier = createAccessTokenVerifier({ publicKeyPem: keys.publicKeyPem, ...auth });

  // Stopped in reverse start order; also on a failed start, so one broken test file leaks nothing.
  const started: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const stop of started.splice(0).reverse()) await stop();
  };

  try {
    const db = await createTestDatabase();
    started.push(() => db.close());
    await options.seed?.(db.prisma);

    // One store for every subgraph, as in production with Redis: identity's revocations reach them all at once.
    const redisUrl = testRedisUrl();
    const prefix = uniqueTestPrefix();
    if (redisUrl) started.push(() => deleteRedisKeys(redisUrl, prefix));
    // Known before identity starts: OAuth providers redirect browsers to the gateway's callback URL.
    const gatewayPort = options.gatewayPort ?? (await freePort());
    const gatewayOrigin = `http://127.0.0.1:${gatewayPort}`;
    const outboxDir = await mkdtemp(join(tmpdir(), 'gatehouse-outbox-'));
    started.push(() => rm(outboxDir, { recursive: true, force: true }));
    const storageDir = await mkdtemp(join(tmpdir(), 'gatehouse-storage-'));
    started.push(() => rm(storageDir, { recursive: true, force: true }));
    // Identity and account read the same settings, as they would from one deployment's environment.
    // One set for the whole supergraph: identity mints unsubscribe links account verifies (derived from the keys).
    const secrets = testSecrets();
    const env: NodeJS.ProcessEnv = {
      NODE_ENV: 'test',
      ...secrets,
      JWT_PRIVATE_KEY: keys.privateKeyPem,
      JWT_ISSUER: auth.issuer,
      JWT_AUDIENCE: auth.audience,
      MAIL_OUTBOX_DIR: outboxDir,
      OAUTH_CALLBACK_BASE_URL: gatewayOrigin,
      PUBLIC_URL: gatewayOrigin,
      STORAGE_DIR: storageDir,
      STORAGE_PUBLIC_URL: `${gatewayOrigin}/files`,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
      ...options.identityEnv,
    };
    const accountConfig = loadAccountConfig(env);
    // One storage for both: the purge of deleted accounts removes the files the account subgraph wrote.
    const storage = createObjectStorage(accountConfig.storage);
    started.push(() => storage.close());
    // One bus for every service, as with Redis in production: a settings change made through access-control
    // reaches identity at once, billing events reach the gateway.
    const events = createEventBus({ ...(redisUrl ? { redisUrl } : {}), prefix, logger });
    started.push(() => events.close());
    // Committed audit rows onto the bus (the live `auditEvents` feed), as access-control's main does.
    const auditRelay = startAuditEventRelay({
      connection: db.pool.options,
      publish: (topic, notice) => events.publish(topic, notice),
      logger,
    });
    started.push(() => auditRelay.close());
    await auditRelay.ready;
    // The store every subgraph's sessionCheck reads, as Redis is in production.
    const kv = createKeyValueStore({ ...(redisUrl ? { redisUrl } : {}), prefix, logger });
    started.push(() => kv.close());
    // One kit per service, as each process builds its own; the bus and the storage are the process's.
    const kitFor = (serviceEnv: NodeJS.ProcessEnv) => {
      const kit = createServiceKit({
        prisma: db.prisma,
        logger,
        kv,
        env: serviceEnv,
        redisPrefix: prefix,
        shared: { events, storage },
      });
      started.push(() => kit.close());
      return kit;
    };
    const identity = await createIdentityServices({
      prisma: db.prisma,
      logger,
      config: loadIdentityConfig(env),
      kv,
      kit: kitFor(env),
    });
    started.push(() => identity.close());
    const account = createAccountServices({ prisma: db.prisma, logger, kv, kit: kitFor(env) });
    started.push(() => account.close());
    const billing = createBillingServices({
      prisma: db.prisma,
      logger,
      config: loadBillingConfig({ WEBHOOKS_ALLOW_INSECURE_URLS: 'true', ...env }),
      kv,
      kit: kitFor(env),
      schedule: false,
      ...(options.billingNow ? { now: options.billingNow } : {}),
    });
    started.push(() => billing.close());

    const sessionCheck = createSessionStatusChecker({
      kv,
      isSessionActive: createSessionLivenessQuery(db.prisma),
    });
    const deps = { prisma: db.prisma, logger, verifier, production: false, sessionCheck };
    const identityMetrics = createServiceMetrics({ service: 'identity', logger, processMetrics: false });
    const apps = {
      identity: createIdentityApp({ ...deps, identity: identity.services, metrics: identityMetrics }),
      account: createAccountApp({ ...deps, account: account.services, kv }),
      'access-control': createAccessControlApp({ ...deps, kv, events }),
      billing: createBillingApp({ ...deps, billing: billing.services, routes: billing.routes, kv }),
    };
    const subgraphs = {} as Record<SubgraphName, HttpService>;
    // Stops whichever subgraphs did start, together; a test may already have stopped one (stop() is idempotent).
    started.push(async () => {
      await Promise.all(Object.values(subgraphs).map((service) => service.stop()));
    });
    for (const [name, app] of Object.entries(apps) as [SubgraphName, (typeof apps)[SubgraphName]][]) {
      subgraphs[name] = await startHttpService({
        name,
        host: '127.0.0.1',
        port: 0,
        logger,
        // Each app's context type differs; startHttpService only needs the endpoint shape.
        graphql: app as typeof apps.identity,
        ...(app.routes ? { routes: app.routes } : {}),
        readinessChecks: {},
        // As startSubgraph does: only the gateway (and tests, through postGraphQL) is answered.
        subgraphSecret: TEST_SUBGRAPH_SECRET,
      });
    }

    const subgraphUrls = {} as Record<SubgraphName, string>;
    for (const name of Object.keys(apps) as SubgraphName[]) {
      let origin = subgraphs[name].url;
      const interpose = options.interpose?.[name];
      if (interpose) {
        const interposer = await interpose(origin);
        started.push(() => interposer.close());
        origin = interposer.url;
      }
      subgraphUrls[name] = `${origin}/graphql`;
    }

    // API usage: the gateway counts, access-control records (as their mains do); tests flush by hand.
    const stopUsageConsumer = await startApiUsageConsumer({
      repository: createApiUsageRepository(db.prisma),
      events,
      kv,
      logger,
    });
    started.push(stopUsageConsumer);
    const usage = createUsageRecorder({ events, logger, flushIntervalMs: 0 });

    const gateway = await startGateway({
      supergraphSdl: await readFile(SUPERGRAPH_FILE, 'utf8'),
      subgraphUrls,
      subgraphSecret: TEST_SUBGRAPH_SECRET,
      logger,
      production: false,
      playground: true,
      host: '127.0.0.1',
      port: gatewayPort,
      // WebSocket subscriptions over the shared bus, verifying tokens like main() does (HTTP protection stays off).
      realtime: { events, authenticator: createGatewayAuthenticator({ verifier, kv }) },
      usage,
    });
    started.push(() => gateway.stop());

    return {
      db,
      subgraphs,
      gateway,
      graphqlUrl: `${gateway.url}/graphql`,
      signer,
      encryptionKeys: secrets.ENCRYPTION_KEYS,
      ...(redisUrl ? { redis: { url: redisUrl, prefix } } : {}),
      kv,
      identityMetrics,
      billing,
      events,
      usage,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
