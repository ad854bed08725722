import { recordSqlStatements } from './sql-statements';
import { createTestDatabase, type TestDatabase } from './test-database';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

describe('recordSqlStatements', () => {
  it("counts the statements that name a table, including Prisma's", async () => {
    const sql = recordSqlStatements(db.pool);
    try {
      await db.prisma.user.findMany({ where: { email: 'nobody@example.test' } });
      await db.pool.query('SELECT count(*) FROM "roles"');
      await db.pool.query({ text: 'SELECT count(*) FROM "roles" WHERE name = $1', values: ['admin'] });
      expect(sql.count('users')).toBe(1);
      expect(sql.count('roles')).toBe(2);
      expect(sql.count('user_roles')).toBe(0);
    } finally {
      sql.restore();
    }
  });

  it('stops recording on restore, and refuses overlapping recorders', async () => {
    const first = recordSqlStatements(db.pool);
    const second = recordSqlStatements(db.pool);
    expect(() => first.restore()).toThrow(/overlap/);
    second.restore();
    first.restore();
    await db.pool.query('SELECT 1 FROM "roles"');
    expect(first.count('roles')).toBe(0);
  });
});
