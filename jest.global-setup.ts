// Jest global setup: provides TEST_DATABASE_URL to every test worker.
// - TEST_DATABASE_URL set (CI, or a local server): verify it answers, with a clear error if not.
// - else DATABASE_URL set: use that server (tests only create and drop their own t_* schemas).
// - else: start an embedded PostgreSQL (data in .data/test-postgres, reused between runs) and
//   stop it in jest.global-teardown.ts.
// Workspace packages are imported by path: Jest's global setup runs outside the `source` export condition.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './packages/db/src/embedded-postgres';

declare global {
  var __gatehouseTestPostgres: { server: EmbeddedPostgres; ephemeralDataDir?: string } | undefined;
}

const SHARED_DATA_DIR = path.join(__dirname, '.data', 'test-postgres');
const FIRST_PORT = 54329;

export default async function globalSetup(): Promise<void> {
  const configured = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (configured) {
    await verifyConnection(configured, process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : 'DATABASE_URL');
    process.env.TEST_DATABASE_URL = configured;
    return;
  }
  // Another Jest run on this machine may hold the shared directory; then use a throw-away one.
  const ephemeralDataDir = dataDirInUse(SHARED_DATA_DIR)
    ? path.join(__dirname, '.data', `test-postgres-${process.pid}`)
    : undefined;
  const server = await startEmbeddedPostgres({
    dataDir: ephemeralDataDir ?? SHARED_DATA_DIR,
    port: await freePort(FIRST_PORT),
    database: 'test',
  });
  globalThis.__gatehouseTestPostgres = { server, ...(ephemeralDataDir ? { ephemeralDataDir } : {}) };
  process.env.TEST_DATABASE_URL = server.url;
}

async function verifyConnection(url: string, variable: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    const safeUrl = new URL(url);
    if (safeUrl.password) safeUrl.password = '***';
    throw new Error(
      `${variable}=${safeUrl.toString()} is not reachable: ${error instanceof Error ? error.message : error}.\n` +
        `Start that PostgreSQL server, or unset TEST_DATABASE_URL and DATABASE_URL to let the tests start an embedded one.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when a live postmaster owns the data directory. */
function dataDirInUse(dataDir: string): boolean {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return false;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // stale pid file of a crashed server; PostgreSQL removes it on start
  }
}

async function freePort(from: number): Promise<number> {
  for (let port = from; port < from + 50; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`No free TCP port in ${from}..${from + 49} for the embedded test PostgreSQL`);
}
