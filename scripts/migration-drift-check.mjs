#!/usr/bin/env node
// CI gate: fails when prisma/schema and prisma/migrations disagree.
//
// Builds two scratch databases on the server of TEST_DATABASE_URL / DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres): one by applying every migration.sql in order, one
// from the SQL Prisma's schema engine derives from prisma/schema. Then compares their catalogs
// (tables, columns, defaults, constraints, indexes, enums, extensions, functions) and drops both.
//
// Prisma cannot model some objects the migrations add by hand. Those are listed in HAND_WRITTEN
// below; each is tolerated *and required* (the check also fails if one disappears). Everything
// else must match exactly.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  DEFAULT_DATABASE_URL,
  MIGRATIONS_PATH,
  ROOT,
  diffSql,
  withSchemaEngine,
} from './prisma-migrate-offline.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));
const pg = require('pg');

/** Differences between migrations and schema that are intended. Keep this list short and documented. */
const HAND_WRITTEN = {
  /** audit_logs is RANGE-partitioned by month; its partitions are runtime data, not schema. */
  partitionedTables: ['audit_logs'],
  /** Constraints Prisma has no syntax for: `table | name | definition`. */
  constraints: ['users | users_email_lowercase | CHECK ((email = lower(email)))'],
  /**
   * Functions maintaining the audit_logs partitions, and the trigger function announcing new audit rows (NOTIFY
   * for the live audit feed): `name(argument types)`.
   */
  functions: [
    'create_audit_log_partition(month date)',
    'ensure_audit_log_partitions(months_ahead integer)',
    'audit_logs_notify()',
  ],
};

function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function migrationFiles() {
  return fs
    .readdirSync(MIGRATIONS_PATH, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => ({
      name,
      sql: fs.readFileSync(path.join(MIGRATIONS_PATH, name, 'migration.sql'), 'utf8'),
    }));
}

/** The schema's objects as comparable strings, one list per kind. Partitions are excluded. */
async function catalog(client) {
  const rows = async (sql) => (await client.query(sql)).rows.map((r) => Object.values(r).join(' | '));
  const visible = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'`;
  const ownTable = `${visible} and c.relname <> '_prisma_migrations' and not c.relispartition`;
  const partitioned = HAND_WRITTEN.partitionedTables.map((t) => `'${t}'`).join(',');
  return {
    tables: await rows(`select c.relname,
        case when c.relkind = 'p' and c.relname in (${partitioned}) then 'r' else c.relkind::text end
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where ${ownTable} and c.relkind in ('r', 'p', 'v', 'm') order by 1`),
    columns: await rows(`select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
        coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity, a.attgenerated
      from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where ${ownTable} and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped order by 1, 2`),
    constraints: await rows(`select c.relname, k.conname, pg_get_constraintdef(k.oid)
      from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
      where ${ownTable} order by 1, 2`),
    // Indexes of a partitioned table print as "ON ONLY <table>"; otherwise identical.
    indexes:
      await rows(`select c.relname as table_name, i.relname as index_name, replace(pg_get_indexdef(i.oid), ' ON ONLY ', ' ON ')
      from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class c on c.oid = x.indrelid
      join pg_namespace n on n.oid = c.relnamespace where ${ownTable} order by 1, 2`),
    enums: await rows(`select t.typname, string_agg(e.enumlabel, ',' order by e.enumsortorder)
      from pg_type t join pg_enum e on e.enumtypid = t.oid join pg_namespace n on n.oid = t.typnamespace
      where ${visible} group by 1 order by 1`),
    extensions: await rows(`select extname from pg_extension where extname <> 'plpgsql' order by 1`),
    functions: await rows(`select p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      left join pg_depend d on d.objid = p.oid and d.deptype = 'e'
      where ${visible} and d.objid is null order by 1`),
  };
}

const norm = (s) => s.replace(/\s+/g, ' ');

/** Partitioned tables of HAND_WRITTEN that the migrations fail to partition. */
async function unpartitionedTables(client) {
  const { rows } = await client.query(
    `select c.relname from pg_class c where c.relkind = 'p' and c.relnamespace = 'public'::regnamespace`,
  );
  const partitioned = new Set(rows.map((r) => r.relname));
  return HAND_WRITTEN.partitionedTables.filter((t) => !partitioned.has(t));
}

async function main() {
  const base = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const admin = withDatabase(base, 'postgres');
  const tag = crypto.randomBytes(4).toString('hex');
  const fromMigrations = `gatehouse_drift_migrations_${tag}`;
  const fromSchema = `gatehouse_drift_schema_${tag}`;
  await withClient(admin, async (c) => {
    await c.query(`create database "${fromMigrations}"`);
    await c.query(`create database "${fromSchema}"`);
  });
  try {
    const migrations = migrationFiles();
    if (migrations.length === 0) throw new Error(`No migrations in ${MIGRATIONS_PATH}`);
    await withClient(withDatabase(base, fromMigrations), async (c) => {
      for (const m of migrations) {
        try {
          await c.query(m.sql);
        } catch (error) {
          throw new Error(`Migration ${m.name} failed: ${error instanceof Error ? error.message : error}`);
        }
      }
    });
    const ddl = await withSchemaEngine(withDatabase(base, fromSchema), (engine) => diffSql(engine, null));
    await withClient(withDatabase(base, fromSchema), (c) => c.query(ddl));

    const [a, b, missing] = await Promise.all([
      withClient(withDatabase(base, fromMigrations), catalog),
      withClient(withDatabase(base, fromSchema), catalog),
      withClient(withDatabase(base, fromMigrations), unpartitionedTables),
    ]);
    const tolerated = {
      constraints: HAND_WRITTEN.constraints.map(norm),
      functions: HAND_WRITTEN.functions.map(norm),
    };
    const problems = missing.map((t) => `! hand-written partitioning missing from migrations: ${t}`);
    for (const kind of Object.keys(a)) {
      const allowed = tolerated[kind] ?? [];
      for (const x of allowed) {
        if (!a[kind].map(norm).includes(x))
          problems.push(`! hand-written ${kind} missing from migrations: ${x}`);
      }
      for (const x of a[kind]) {
        if (!b[kind].includes(x) && !allowed.includes(norm(x)))
          problems.push(`- ${kind} only in migrations: ${x}`);
      }
      for (const x of b[kind]) {
        if (!a[kind].includes(x)) problems.push(`+ ${kind} only in prisma/schema: ${x}`);
      }
    }
    if (problems.length > 0) {
      console.error(problems.join('\n'));
      console.error(
        `\nprisma/schema and prisma/migrations differ (${problems.length}). Create a migration with ` +
          '`npm run db:new-migration -- <name>` (or fix the schema), then run `npm run db:check` again.',
      );
      return 1;
    }
    console.log(`prisma/migrations (${migrations.length}) match prisma/schema.`);
    return 0;
  } finally {
    await withClient(admin, async (c) => {
      await c.query(`drop database if exists "${fromMigrations}" with (force)`);
      await c.query(`drop database if exists "${fromSchema}" with (force)`);
    });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
