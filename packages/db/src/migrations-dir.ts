import fs from 'node:fs';
import path from 'node:path';

/** Environment variable that overrides where migrations are read from (e.g. `/app/prisma/migrations` in Docker). */
export const MIGRATIONS_DIR_ENV = 'GATEHOUSE_MIGRATIONS_DIR';

/**
 * The one place that knows where `prisma/migrations` lives: `$GATEHOUSE_MIGRATIONS_DIR` if set,
 * else the nearest `prisma/migrations` walking up from this package (works from src/ and dist/).
 */
export function resolveMigrationsDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[MIGRATIONS_DIR_ENV];
  if (override) return path.resolve(override);
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'prisma', 'migrations');
    if (fs.existsSync(path.join(candidate, 'migration_lock.toml'))) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(
    `Cannot find prisma/migrations above ${__dirname}; set ${MIGRATIONS_DIR_ENV} to the migrations folder.`,
  );
}
