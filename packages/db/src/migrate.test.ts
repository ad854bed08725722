import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { dropSchema, scratchSchemaName, testUrl } from './scratch-schema.test-support';
import { migrate, MigrationStateError, readMigrations } from './migrate';
import { resolveMigrationsDir } from './migrations-dir';

describe('migrate', () => {
  const schemas: string[] = [];
  const tempDirs: string[] = [];
  const newSchema = () => {
    const schema = scratchSchemaName();
    schemas.push(schema);
    return schema;
  };
  /** A private copy of prisma/migrations that a test may edit. */
  const copyOfMigrations = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-migrations-'));
    fs.cpSync(resolveMigrationsDir(), dir, { recursive: true });
    tempDirs.push(dir);
    return dir;
  };
  const query = async <T extends pg.QueryResultRow>(schema: string, sql: string) => {
    const client = new pg.Client({ connectionString: testUrl(), options: `-c search_path=${schema}` });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  };

  afterAll(async () => {
    await Promise.all(schemas.map(dropSchema));
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies every migration once and records them as Prisma does', async () => {
    const schema = newSchema();
    const local = readMigrations(resolveMigrationsDir());
    expect(local.length).toBeGreaterThan(0);

    const first = await migrate({ url: testUrl(), schema });
    expect(first.applied).toEqual(local.map((m) => m.name));

    const second = await migrate({ url: testUrl(), schema });
    expect(second.applied).toEqual([]);

    const rows = await query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      applied_steps_count: number;
    }>(schema, 'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations');
    expect(rows).toHaveLength(local.length);
    for (const migration of local) {
      const file = fs.readFileSync(path.join(resolveMigrationsDir(), migration.name, 'migration.sql'));
      const row = rows.find((r) => r.migration_name === migration.name);
      expect(row?.checksum).toBe(crypto.createHash('sha256').update(file).digest('hex'));
      expect(row?.finished_at).toBeInstanceOf(Date);
      expect(row?.applied_steps_count).toBe(1);
    }
    // The tables landed in the scratch schema, not in public.
    const tables = await query<{ n: string }>(
      schema,
      `SELECT count(*)::text AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'users'`,
    );
    expect(tables[0]?.n).toBe('1');
  });

  it('lets exactly one of several concurrent starters apply the migrations', async () => {
    const schema = newSchema();
    const results = await Promise.all([1, 2, 3].map(() => migrate({ url: testUrl(), schema })));
    const appliedCounts = results.map((r) => r.applied.length).sort();
    expect(appliedCounts.slice(0, 2)).toEqual([0, 0]);
    expect(appliedCounts[2]).toBeGreaterThan(0);
  });

  it('refuses to run when an applied migration was edited', async () => {
    const schema = newSchema();
    const dir = copyOfMigrations();
    await migrate({ url: testUrl(), schema, migrationsDir: dir });

    const [first] = readMigrations(dir);
    fs.appendFileSync(path.join(dir, first!.name, 'migration.sql'), '\n-- edited after the fact\n');

    await expect(migrate({ url: testUrl(), schema, migrationsDir: dir })).rejects.toThrow(
      MigrationStateError,
    );
    await expect(migrate({ url: testUrl(), schema, migrationsDir: dir })).rejects.toThrow(/was modified/);
  });

  it('rolls back a failing migration and retries it once fixed', async () => {
    const schema = newSchema();
    const dir = copyOfMigrations();
    await migrate({ url: testUrl(), schema, migrationsDir: dir });

    const broken = path.join(dir, '29991231000000_broken', 'migration.sql');
    fs.mkdirSync(path.dirname(broken));
    fs.writeFileSync(broken, 'CREATE TABLE "half_done" (id int);\nSELECT * FROM "no_such_table";\n');
    await expect(migrate({ url: testUrl(), schema, migrationsDir: dir })).rejects.toThrow(/no_such_table/);
    // The transaction left nothing behind.
    expect(
      await query(
        schema,
        `SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'half_done'`,
      ),
    ).toEqual([]);

    fs.writeFileSync(broken, 'CREATE TABLE "half_done" (id int);\n');
    expect((await migrate({ url: testUrl(), schema, migrationsDir: dir })).applied).toEqual([
      '29991231000000_broken',
    ]);
  });
});
