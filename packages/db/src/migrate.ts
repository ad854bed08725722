import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { type DbLogger, silentLogger } from './logger';
import { resolveMigrationsDir } from './migrations-dir';
import { quoteSchemaName } from './schema-name';

export interface MigrateOptions {
  /** postgres:// connection URL. */
  url: string;
  /** Apply into this Postgres schema (created if missing) instead of the connection's default. */
  schema?: string;
  logger?: DbLogger;
  /** Folder of `<timestamp>_<name>/migration.sql` (default: resolveMigrationsDir()). */
  migrationsDir?: string;
}

export interface MigrateResult {
  /** Names of the migrations applied by this call, in order (empty when up to date). */
  applied: string[];
}

/** A migration whose applied checksum no longer matches its file, or that failed half-way. */
export class MigrationStateError extends Error {
  override readonly name = 'MigrationStateError';
}

interface LocalMigration {
  name: string;
  sql: string;
  checksum: string;
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/** Same key as Prisma Migrate, so our runner and `prisma migrate deploy` exclude each other. */
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

/**
 * A migration starting with this line runs outside a transaction (needed for
 * `CREATE INDEX CONCURRENTLY`). If it fails half-way it must be resolved by hand, as with Prisma.
 */
export const NO_TRANSACTION_MARKER = '-- gatehouse:no-transaction';

/** Prisma's own bookkeeping table, verbatim, so `prisma migrate status|deploy` understand our history. */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export function readMigrations(dir: string): LocalMigration[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name, 'migration.sql'));
      // Prisma's checksum: sha256 (hex) of the migration file's bytes.
      return {
        name,
        sql: bytes.toString('utf8'),
        checksum: crypto.createHash('sha256').update(bytes).digest('hex'),
      };
    });
}

/**
 * Applies pending migrations from prisma/migrations, recording them in `_prisma_migrations` exactly as
 * Prisma Migrate does. Safe to call from several processes at once (Postgres advisory lock). Refuses to
 * run when an applied migration's file changed, or a previous run failed half-way.
 */
export async function migrate({
  url,
  schema,
  logger = silentLogger,
  migrationsDir = resolveMigrationsDir(),
}: MigrateOptions): Promise<MigrateResult> {
  const local = readMigrations(migrationsDir);
  const client = new pg.Client({
    connectionString: url,
    ...(schema === undefined ? {} : { options: `-c search_path=${quoteSchemaName(schema)}` }),
  });
  await client.connect();
  try {
    // Per schema, so test files migrating their own schemas do not queue behind each other. Named
    // explicitly: current_schema() is NULL while the schema does not exist yet.
    const lockArgs = [PRISMA_ADVISORY_LOCK_KEY, schema ?? null];
    await client.query(
      'SELECT pg_advisory_lock($1, hashtext(coalesce($2::text, current_schema())))',
      lockArgs,
    );
    try {
      if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteSchemaName(schema)}`);
      await client.query(CREATE_MIGRATIONS_TABLE);
      const { rows } = await client.query<AppliedRow>(
        `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"
          WHERE rolled_back_at IS NULL ORDER BY started_at`,
      );
      const pending = pendingMigrations(local, rows, logger);
      const applied: string[] = [];
      for (const migration of pending) {
        await applyMigration(client, migration, logger);
        applied.push(migration.name);
      }
      if (applied.length === 0) logger.info({ schema }, 'database schema is up to date');
      return { applied };
    } finally {
      await client.query(
        'SELECT pg_advisory_unlock($1, hashtext(coalesce($2::text, current_schema())))',
        lockArgs,
      );
    }
  } finally {
    await client.end();
  }
}

function pendingMigrations(local: LocalMigration[], rows: AppliedRow[], logger: DbLogger): LocalMigration[] {
  const byName = new Map(local.map((m) => [m.name, m]));
  for (const row of rows) {
    if (row.finished_at === null) {
      throw new MigrationStateError(
        `Migration ${row.migration_name} failed or is still running in another process. Fix the database by hand, ` +
          `then mark it resolved (e.g. set rolled_back_at in _prisma_migrations) before migrating again.`,
      );
    }
    const file = byName.get(row.migration_name);
    if (!file) {
      // A newer release may have added it; rolling the app back must not brick start-up.
      logger.warn(
        { migration: row.migration_name },
        'applied migration is missing from the migrations folder',
      );
    } else if (file.checksum !== row.checksum) {
      throw new MigrationStateError(
        `Migration ${row.migration_name} was modified after it was applied (checksum ${row.checksum} in the database, ` +
          `${file.checksum} on disk). Applied migrations are immutable: restore the file and add a new migration.`,
      );
    }
  }
  const done = new Set(rows.map((r) => r.migration_name));
  return local.filter((m) => !done.has(m.name));
}

async function applyMigration(client: pg.Client, migration: LocalMigration, logger: DbLogger): Promise<void> {
  const id = crypto.randomUUID();
  const transactional = !migration.sql.trimStart().startsWith(NO_TRANSACTION_MARKER);
  logger.info({ migration: migration.name }, 'applying migration');
  await client.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
     VALUES ($1, $2, $3, now(), 0)`,
    [id, migration.checksum, migration.name],
  );
  try {
    if (transactional) await client.query('BEGIN');
    await client.query(migration.sql);
    await client.query(
      `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    if (transactional) await client.query('COMMIT');
  } catch (error) {
    if (transactional) await client.query('ROLLBACK');
    const message = error instanceof Error ? error.message : String(error);
    // A rolled-back transactional migration left nothing behind: mark it rolled back so the next run
    // retries it (Prisma reads rolled_back_at the same way). A non-transactional one stays "failed".
    await client.query(
      `UPDATE "_prisma_migrations" SET logs = $2, rolled_back_at = CASE WHEN $3 THEN now() END WHERE id = $1`,
      [id, message, transactional],
    );
    throw new MigrationStateError(`Migration ${migration.name} failed: ${message}`, { cause: error });
  }
}
