import crypto from 'node:crypto';
import pg from 'pg';
import { createDatabase, type Database } from './client';
import { migrate } from './migrate';

/** TEST_DATABASE_URL, provided by jest.global-setup.ts. */
export function testUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set (jest.global-setup.ts provides it)');
  return url;
}

/** A unique schema name; @gatehouse/testing cannot be used here (it depends on this package). */
export function scratchSchemaName(): string {
  return `t_${crypto.randomBytes(6).toString('hex')}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: testUrl() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** A migrated scratch schema with a Database bound to it; `close()` drops it. */
export async function migratedScratchDatabase(): Promise<Database & { schema: string }> {
  const schema = scratchSchemaName();
  await migrate({ url: testUrl(), schema });
  const db = createDatabase({ url: testUrl(), schema, poolMax: 3 });
  return {
    ...db,
    schema,
    close: async () => {
      await db.close();
      await dropSchema(schema);
    },
  };
}
