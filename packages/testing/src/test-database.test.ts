import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './test-database';

async function schemaExists(url: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('createTestDatabase', () => {
  let a: TestDatabase;
  let b: TestDatabase;
  beforeAll(async () => {
    [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('gives each caller its own migrated schema', async () => {
    expect(a.schema).toMatch(/^t_[0-9a-f]{12}$/);
    expect(b.schema).not.toBe(a.schema);
    await a.prisma.user.create({ data: { email: 'only-in-a@example.com' } });

    expect(await a.prisma.user.count()).toBe(1);
    expect(await b.prisma.user.count()).toBe(0);
    const { rows } = await b.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    expect(rows[0]?.n).toBe(0);
  });

  it('drops its schema on close, and close is idempotent', async () => {
    const db = await createTestDatabase();
    expect(await schemaExists(db.url, db.schema)).toBe(true);
    await Promise.all([db.close(), db.close()]);
    expect(await schemaExists(db.url, db.schema)).toBe(false);
  });
});
