#!/usr/bin/env node
// Prisma Migrate without the native schema-engine binary (these machines cannot download it).
// Drives Prisma's own schema engine compiled to WebAssembly (@prisma/schema-engine-wasm) through
// @prisma/adapter-pg, and keeps Prisma's layout: prisma/migrations/<timestamp>_<name>/migration.sql.
//
//   node scripts/prisma-migrate-offline.mjs new <name> [--from-schema=DIR_OR_FILE | --from-git=REV | --from-empty]
//       Writes a migration for the difference between the schema at REV (default HEAD) and the
//       working tree's prisma/schema. Review the SQL, then `npm run db:check`.
//   node scripts/prisma-migrate-offline.mjs diff [--from-schema=... | --from-git=REV | --from-empty]
//       Prints that SQL without writing anything.
//
// Applying migrations is @gatehouse/db's migrate() (`npm run db:migrate`), which writes the same
// `_prisma_migrations` bookkeeping as `prisma migrate deploy`.
// Environment: DATABASE_URL (any reachable Postgres; the engine needs a connection even to diff),
// PRISMA_SCHEMA (default prisma/schema), PRISMA_MIGRATIONS (default prisma/migrations).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_PATH = path.resolve(ROOT, process.env.PRISMA_SCHEMA ?? 'prisma/schema');
export const MIGRATIONS_PATH = path.resolve(ROOT, process.env.PRISMA_MIGRATIONS ?? 'prisma/migrations');
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const require = createRequire(path.join(ROOT, 'package.json'));
const pg = require('pg');
const { PrismaPg } = require('@prisma/adapter-pg');
const { bindMigrationAwareSqlAdapterFactory } = require('@prisma/driver-adapter-utils');

/** The files of a schema: one .prisma file or a folder of them (Prisma's multi-file schema). */
export function schemaFiles(schemaPath = SCHEMA_PATH) {
  if (!fs.statSync(schemaPath).isDirectory()) {
    return [{ path: schemaPath, content: fs.readFileSync(schemaPath, 'utf8') }];
  }
  return fs
    .readdirSync(schemaPath, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.prisma'))
    .sort()
    .map((f) => ({
      path: path.join(schemaPath, f),
      content: fs.readFileSync(path.join(schemaPath, f), 'utf8'),
    }));
}

/** The schema files as committed at a git revision (null when the revision has none). */
export function gitSchemaFiles(rev = 'HEAD', schemaPath = SCHEMA_PATH) {
  const git = (...args) =>
    execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const rel = path.relative(ROOT, schemaPath);
  let names;
  try {
    names = git('ls-tree', '-r', '--name-only', rev, '--', rel)
      .split('\n')
      .filter((f) => f.endsWith('.prisma'));
  } catch {
    return null;
  }
  if (names.length === 0) return null;
  return names.map((f) => ({ path: path.join(ROOT, f), content: git('show', `${rev}:${f}`) }));
}

let wasm;
async function loadWasm() {
  if (wasm) return wasm;
  globalThis.PRISMA_WASM_PANIC_REGISTRY ??= {
    set_message(message) {
      console.error(`schema engine panic: ${message}`);
    },
  };
  const bgPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const bg = await import(pathToFileURL(bgPath).href);
  const bytes = fs.readFileSync(path.join(path.dirname(bgPath), 'schema_engine_bg.wasm'));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { './schema_engine_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  return (wasm = bg);
}

/**
 * Runs `fn(engine)` with a WASM schema engine connected to `url`. The engine keeps a timer alive
 * after use, so CLI callers end with process.exit() (as the Prisma CLI does).
 */
export async function withSchemaEngine(url, fn, schemaPath = SCHEMA_PATH) {
  const bg = await loadWasm();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg(pool));
    const datamodels = schemaFiles(schemaPath).map((f) => [f.path, f.content]);
    const engine = await bg.SchemaEngine.new({ datamodels }, () => undefined, adapter);
    return await fn(engine);
  } finally {
    await pool.end();
  }
}

const noFilters = { externalTables: [], externalEnums: [] };

/** SQL that turns the `from` schema files (null = empty database) into the `to` schema files. */
export async function diffSql(engine, fromFiles, toFiles = schemaFiles()) {
  const target = (files) => ({ tag: 'schemaDatamodel', files });
  const result = await engine.diff({
    from: fromFiles === null ? { tag: 'empty' } : target(fromFiles),
    to: target(toFiles),
    script: true,
    exitCode: true,
    filters: noFilters,
  });
  return result.exitCode === 2 ? result.stdout : '';
}

function option(args, name) {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

function fromFilesFor(args) {
  if (args.includes('--from-empty')) return null;
  const fromSchema = option(args, 'from-schema');
  if (fromSchema) return schemaFiles(path.resolve(fromSchema));
  const rev = option(args, 'from-git') ?? 'HEAD';
  const files = gitSchemaFiles(rev);
  if (!files) {
    throw new Error(
      `No Prisma schema committed at ${rev}; pass --from-git=<rev>, --from-schema=<path> or --from-empty explicitly.`,
    );
  }
  return files;
}

async function main(argv) {
  const [command, ...args] = argv;
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  switch (command) {
    case 'diff': {
      const sql = await withSchemaEngine(url, (engine) => diffSql(engine, fromFilesFor(args)));
      process.stdout.write(sql || '-- No schema changes.\n');
      return 0;
    }
    case 'new': {
      const name = args.find((a) => !a.startsWith('--'));
      if (!name || !/^[a-z0-9_]+$/.test(name)) throw new Error('usage: new <snake_case_name> [--from-...]');
      const sql = await withSchemaEngine(url, (engine) => diffSql(engine, fromFilesFor(args)));
      if (!sql) {
        console.log('No schema changes; no migration created.');
        return 0;
      }
      const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
      const dir = path.join(MIGRATIONS_PATH, `${stamp}_${name}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'migration.sql'), sql);
      const lock = path.join(MIGRATIONS_PATH, 'migration_lock.toml');
      if (!fs.existsSync(lock)) {
        fs.writeFileSync(
          lock,
          '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
        );
      }
      console.log(
        `Created ${path.relative(ROOT, dir)}/migration.sql: review it, then run \`npm run db:check\`.`,
      );
      return 0;
    }
    default:
      console.error(
        'usage: node scripts/prisma-migrate-offline.mjs new <name> | diff  [--from-schema=PATH | --from-git=REV | --from-empty]',
      );
      return 64;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
