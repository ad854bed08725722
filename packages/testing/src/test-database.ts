import crypto from 'node:crypto';
import pg from 'pg';
import { createDatabase, migrate, quoteSchemaName, type PrismaClient } from '@gatehouse/db';

export interface TestDatabase {
  /** The server URL (TEST_DATABASE_URL); the schema is selected through `schema`, not the URL. */
  url: string;
  /** `t_<random>`: a fresh Postgres schema with every migration applied. */
  schema: string;
  /** Prisma bound to `schema`. */
  prisma: PrismaClient;
  /** pg pool whose search_path is `schema`, for raw SQL. */
  pool: pg.Pool;
  /** Drops the schema (CASCADE) and closes Prisma and the pools. Call it in afterAll. */
  close(): Promise<void>;
}

/** The Postgres server for tests: TEST_DATABASE_URL (jest.global-setup.ts provides one). */
export function testDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      'TEST_DATABASE_URL is not set. Run tests through Jest (its global setup starts an embedded PostgreSQL) ' +
        'or point TEST_DATABASE_URL at a server, e.g. postgres://postgres@127.0.0.1:5432/test.',
    );
  }
  return url;
}

/**
 * A private, fully migrated schema on the test server, so test files run in parallel without
 * seeing each other's rows. One per test file (beforeAll/afterAll) is the intended granularity.
 */
export async function createTestDatabase(options: { poolMax?: number } = {}): Promise<TestDatabase> {
  const url = testDatabaseUrl();
  const schema = `t_${crypto.randomBytes(6).toString('hex')}`;
  await migrate({ url, schema });
  const db = createDatabase({ url, schema, poolMax: options.poolMax ?? 5 });
  let closed: Promise<void> | undefined;
  return {
    url,
    schema,
    prisma: db.prisma,
    pool: db.pool,
    close: () =>
      (closed ??= (async () => {
        await db.close();
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        try {
          await admin.query(`DROP SCHEMA IF EXISTS ${quoteSchemaName(schema)} CASCADE`);
        } finally {
          await admin.end();
        }
      })()),
  };
}
