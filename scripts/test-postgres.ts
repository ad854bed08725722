/**
 * The PostgreSQL server tests run against, for Jest's global setup and for the commands that need one outside
 * Jest (`npm run db:check`).
 *
 * - TEST_DATABASE_URL set: that server, checked to answer.
 * - else DATABASE_URL set: that server (tests only create and drop their own t_* schemas and scratch databases).
 * - else: an embedded PostgreSQL from the npm binaries (data in .data/test-postgres, reused between runs), the
 *   default for developers and CI alike (docs/development.md says why).
 *
 * As a command it runs another command with TEST_DATABASE_URL set, starting and stopping the server around it:
 *   tsx --conditions=source scripts/test-postgres.ts <command> [args...]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../packages/db/src/embedded-postgres';

const ROOT = path.resolve(__dirname, '..');
const SHARED_DATA_DIR = path.join(ROOT, '.data', 'test-postgres');
const FIRST_PORT = 54329;

/**
 * Durability is not what tests prove, and these settings take most of the disk waits out of a suite that
 * creates a schema per file. Crash safety of this throw-away cluster is all they give up.
 */
const TEST_SERVER_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

export interface TestPostgres {
  url: string;
  /** Stops the server if this process started it (a configured server is left alone). */
  stop(): Promise<void>;
}

export async function provideTestPostgres(): Promise<TestPostgres> {
  const configured = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (configured) {
    await verifyConnection(configured, process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : 'DATABASE_URL');
    return { url: configured, stop: async () => undefined };
  }
  // Another run on this machine may hold the shared directory; then use a throw-away one.
  const ephemeralDataDir = dataDirInUse(SHARED_DATA_DIR)
    ? path.join(ROOT, '.data', `test-postgres-${process.pid}`)
    : undefined;
  const server = await startEmbeddedPostgres({
    dataDir: ephemeralDataDir ?? SHARED_DATA_DIR,
    port: await freePort(FIRST_PORT),
    database: 'test',
    settings: TEST_SERVER_SETTINGS,
  });
  return {
    url: server.url,
    async stop() {
      await server.stop();
      if (ephemeralDataDir) fs.rmSync(ephemeralDataDir, { recursive: true, force: true });
    },
  };
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

async function runWithTestPostgres(command: string, args: string[]): Promise<number> {
  const server = await provideTestPostgres();
  try {
    const child = spawn(command, args, {
      stdio: 'inherit',
      env: { ...process.env, TEST_DATABASE_URL: server.url },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    await server.stop();
  }
}

if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  if (!command) {
    console.error('usage: tsx --conditions=source scripts/test-postgres.ts <command> [args...]');
    process.exit(2);
  }
  runWithTestPostgres(command, args).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
