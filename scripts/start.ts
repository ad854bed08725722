/**
 * `npm start`: the whole Gatehouse supergraph in one process, on an embedded default.
 *
 * - No DATABASE_URL: starts an embedded PostgreSQL (data under .data/postgres, kept across restarts).
 * - No REDIS_URL: the services use the in-process store, bus and queue.
 * - Applies migrations, seeds (idempotently: the admin is created once), starts the four subgraphs and the gateway.
 * - Outside production, creates a development JWT key pair under .data/keys when none is configured and
 *   prints a short-lived admin token for the playground; likewise ENCRYPTION_KEYS, STORAGE_SIGNING_SECRET and SUBGRAPH_SECRET
 *   (generated once per install under .data/keys: no secret in the source is ever accepted).
 *
 * Production deployments run each service on its own (see docker-compose.yml); this script is for a laptop.
 */
// First: OpenTelemetry must patch http, graphql, ioredis and Prisma before they load (no-op without OTLP).
import './instrument';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  concerns,
  DEFAULT_PORTS,
  ensureDevelopmentSecrets,
  loadConfigOrExit,
  type AuthConfig,
  type TokenSigningConfig,
} from '@gatehouse/config';
import {
  createDatabase,
  ensureAuditLogPartitions,
  migrate,
  seed,
  startEmbeddedPostgres,
  SYSTEM_ROLES,
} from '@gatehouse/db';
import { MemoryEventBus } from '@gatehouse/events';
import { MemoryKeyValueStore } from '@gatehouse/kv';
import { createLogger, type Logger } from '@gatehouse/logger';
import { createAccessTokenSigner, parsePrivateKey, type AccessTokenSigner } from '@gatehouse/service';

import { gatewayConcerns } from '../gateway/src/config';
import { start as startGateway } from '../gateway/src/main';
import { start as startAccessControl } from '../subgraphs/access-control/src/main';
import { accountConcerns } from '../subgraphs/account/src/config';
import { start as startAccount } from '../subgraphs/account/src/main';
import { billingConcerns } from '../subgraphs/billing/src/config';
import { start as startBilling } from '../subgraphs/billing/src/main';
import { identityConcerns } from '../subgraphs/identity/src/config';
import { start as startIdentity } from '../subgraphs/identity/src/main';

interface Stoppable {
  stop(): Promise<void>;
}

const root = path.resolve(__dirname, '..');
const dataDir = path.join(root, '.data');

async function main(): Promise<void> {
  // Outside production, ENCRYPTION_KEYS, STORAGE_SIGNING_SECRET and SUBGRAPH_SECRET left unset come from files under
  // .data/keys, generated on the first start (no secret in the source is ever accepted). Before the config check,
  // which requires them; the services read them from the environment like any other variable.
  const generated = ensureDevelopmentSecrets({ env: process.env, keyDir: path.join(dataDir, 'keys') });
  // Every service's configuration is checked here, before anything starts, so one message names every wrong
  // variable. The services read the same environment again when they start.
  const config = loadConfigOrExit({
    ...gatewayConcerns,
    ...identityConcerns,
    ...accountConcerns,
    payments: billingConcerns.payments,
    database: concerns.database,
    redis: concerns.redis,
    auth: concerns.auth,
    signing: concerns.tokenSigning,
    crypto: concerns.crypto,
    identity: concerns.http('IDENTITY', DEFAULT_PORTS.IDENTITY),
    account: concerns.http('ACCOUNT', DEFAULT_PORTS.ACCOUNT),
    accessControl: concerns.http('ACCESS_CONTROL', DEFAULT_PORTS.ACCESS_CONTROL),
    billing: concerns.http('BILLING', DEFAULT_PORTS.BILLING),
  });
  const logger = createLogger({ name: 'start', level: config.runtime.LOG_LEVEL });
  if (generated.length > 0) {
    // The names only: the values are secrets.
    logger.info(
      { variables: generated, dir: path.join(dataDir, 'keys') },
      'development secrets read from .data/keys',
    );
  }
  const running: Stoppable[] = [];

  let stopping: Promise<void> | undefined;
  const stopAll = (reason: string): Promise<void> =>
    (stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      for (const service of running.reverse()) {
        try {
          await service.stop();
        } catch (error) {
          logger.error({ err: error }, 'error while stopping a service');
        }
      }
      logger.info('stopped');
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopAll(signal).then(() => process.exit(0)));
  }

  try {
    let databaseUrl = config.database.DATABASE_URL;
    if (!databaseUrl) {
      const port = Number(process.env.EMBEDDED_POSTGRES_PORT ?? 54320);
      const pgDir = path.join(dataDir, 'postgres');
      logger.info({ port, dataDir: pgDir }, 'DATABASE_URL not set: starting embedded PostgreSQL');
      const embedded = await startEmbeddedPostgres({ dataDir: pgDir, port });
      running.push(embedded);
      databaseUrl = embedded.url;
      // The services read DATABASE_URL when they start.
      process.env.DATABASE_URL = databaseUrl;
    }
    // Without Redis, the services of this process share one in-process store: a session revoked by identity is
    // refused by every subgraph at once (with Redis they share Redis).
    // The same for the event bus: a setting changed through access-control reaches identity, billing events
    // reach the gateway's subscriptions.
    let inProcess: { kv: MemoryKeyValueStore; events: MemoryEventBus } | undefined;
    if (!config.redis.REDIS_URL) {
      logger.info('REDIS_URL not set: using the in-process store, event bus and job queue');
      inProcess = { kv: new MemoryKeyValueStore(), events: new MemoryEventBus({ logger }) };
      const { kv, events } = inProcess;
      running.push({ stop: () => kv.close() }, { stop: () => events.close() });
    }
    const shared = inProcess ? { kv: inProcess.kv, shared: { events: inProcess.events } } : {};

    const { applied } = await migrate({ url: databaseUrl, logger });
    logger.info({ applied: applied.length }, 'migrations up to date');

    const db = createDatabase({ url: databaseUrl, poolMax: 2 });
    let admin: { id: string; email: string };
    try {
      await ensureAuditLogPartitions(db.pool, { monthsAhead: 3 });
      const summary = await seed(db.prisma);
      admin = summary.admin;
      if (summary.admin.generatedPassword) {
        // Shown once, when the admin is first created; never through pino (which redacts secrets).
        console.warn(
          `\nSeeded admin ${summary.admin.email} with password: ${summary.admin.generatedPassword}\n` +
            'It is shown only this once. Set SEED_ADMIN_PASSWORD to choose it.\n',
        );
      }
    } finally {
      await db.close();
    }

    const signer = ensureDevelopmentKeys(config.runtime.NODE_ENV, config.auth, config.signing, logger);

    const services: Array<[string, () => Promise<Stoppable & { url: string }>]> = [
      ['identity', () => startIdentity(process.env, shared)],
      ['account', () => startAccount(process.env, shared)],
      ['access-control', () => startAccessControl(process.env, shared)],
      ['billing', () => startBilling(process.env, shared)],
      ['gateway', () => startGateway(inProcess ? { kv: inProcess.kv, events: inProcess.events } : {})],
    ];
    let gatewayUrl = '';
    for (const [name, startService] of services) {
      const handle = await startService();
      running.push(handle);
      gatewayUrl = handle.url;
      logger.info({ url: handle.url }, `${name} started`);
    }

    const base = gatewayUrl.replace(/\/graphql$/, '');
    console.warn(`\nGatehouse is running.\n  Playground: ${base}/playground\n  GraphQL:    ${gatewayUrl}\n`);
    if (signer) {
      const token = await signer.sign({
        userId: admin.id,
        email: admin.email,
        roles: ['admin'],
        permissions: systemRolePermissions('admin'),
      });
      console.warn(
        'Development admin token (valid 15 minutes; paste into the playground headers):\n' +
          `  {"Authorization": "Bearer ${token}"}\n`,
      );
    }
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    await stopAll('start-up failed');
    process.exit(1);
  }
}

/** A system role's permission keys, inherited ones included (admin <- support <- member). */
function systemRolePermissions(name: string): string[] {
  const permissions = new Set<string>();
  for (let role = SYSTEM_ROLES.find((r) => r.name === name); role;) {
    for (const permission of role.permissions) permissions.add(permission);
    const parent = role.parent;
    role = parent === null ? undefined : SYSTEM_ROLES.find((r) => r.name === parent);
  }
  return [...permissions].sort();
}

/**
 * Outside production, an unset JWT key pair is generated once and kept under .data/keys, so tokens (and the
 * key's `kid`, its thumbprint) stay valid across restarts. A configured private key alone is enough: its
 * public half is published for the other services. Returns a signer for printing a development token, or
 * undefined in production.
 */
function ensureDevelopmentKeys(
  nodeEnv: string,
  auth: AuthConfig,
  signing: TokenSigningConfig,
  logger: Logger,
): AccessTokenSigner | undefined {
  if (nodeEnv === 'production') return undefined;
  let privateKey = signing.JWT_PRIVATE_KEY;
  if (privateKey && !auth.JWT_PUBLIC_KEY) {
    process.env.JWT_PUBLIC_KEY = parsePrivateKey(privateKey)
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
  } else if (!privateKey) {
    if (auth.JWT_PUBLIC_KEY) {
      logger.warn('JWT_PUBLIC_KEY is set without JWT_PRIVATE_KEY: using the development key pair instead');
    }
    const keyDir = path.join(dataDir, 'keys');
    const publicPath = path.join(keyDir, 'jwt-public.pem');
    const privatePath = path.join(keyDir, 'jwt-private.pem');
    if (!fs.existsSync(privatePath) || !fs.existsSync(publicPath)) {
      fs.mkdirSync(keyDir, { recursive: true, mode: 0o700 });
      const { publicKey, privateKey: generated } = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      });
      fs.writeFileSync(privatePath, generated, { mode: 0o600 });
      fs.writeFileSync(publicPath, publicKey, { mode: 0o644 });
    }
    process.env.JWT_PUBLIC_KEY = fs.readFileSync(publicPath, 'utf8');
    process.env.JWT_PRIVATE_KEY = privateKey = fs.readFileSync(privatePath, 'utf8');
  }
  const signer = createAccessTokenSigner({
    privateKeyPem: privateKey,
    issuer: auth.JWT_ISSUER,
    audience: auth.JWT_AUDIENCE,
  });
  logger.info({ kid: signer.keyId }, 'access tokens are signed with this key');
  return signer;
}

void main();
