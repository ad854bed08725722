import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client';
import { quoteSchemaName } from './schema-name';

export interface CreateDatabaseOptions {
  /** postgres:// connection URL. */
  url: string;
  /** Maximum connections in the pool (default 10). */
  poolMax?: number;
  /**
   * Postgres schema holding the tables (default: the server's search_path, normally `public`).
   * Tests use one schema per test file. It is applied twice on purpose: PrismaPg qualifies the
   * tables in Prisma's queries, and the pool's `search_path` covers raw SQL and SQL functions.
   */
  schema?: string;
}

export interface Database {
  prisma: PrismaClient;
  /** The pg pool under Prisma, for raw SQL and health checks. */
  pool: pg.Pool;
  /** Disconnects Prisma and ends the pool. */
  close(): Promise<void>;
}

export function createDatabase({ url, poolMax = 10, schema }: CreateDatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    ...(schema === undefined ? {} : { options: `-c search_path=${quoteSchemaName(schema)}` }),
  });
  // An idle client losing its connection (server restart) must not crash the process; the pool
  // replaces it and the next query reports the problem.
  pool.on('error', () => undefined);
  const adapter = new PrismaPg(pool, schema === undefined ? {} : { schema });
  const prisma = new PrismaClient({ adapter });
  let closed: Promise<void> | undefined;
  return {
    prisma,
    pool,
    close: () => (closed ??= prisma.$disconnect().then(() => pool.end())),
  };
}
