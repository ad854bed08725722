/**
 * Database operations for operators and containers:
 *
 *   node packages/db/dist/cli.js migrate [--seed]   apply pending migrations (then the idempotent seed)
 *   node packages/db/dist/cli.js seed               run the idempotent seed only
 *   node packages/db/dist/cli.js partitions         create the coming months' audit-log partitions
 *
 * Reads DATABASE_URL (required here: the embedded default belongs to `npm start`). A generated admin password is
 * printed once to stdout; in production the seed refuses to generate one and requires SEED_ADMIN_PASSWORD.
 */
import { concerns, loadConfigOrExit } from '@gatehouse/config';
import { createLogger } from '@gatehouse/logger';
import { ensureAuditLogPartitions } from './audit-partitions';
import { createDatabase } from './client';
import { migrate } from './migrate';
import { seed } from './seed';

const USAGE = 'usage: cli (migrate [--seed] | seed | partitions)';

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...flags] = argv;
  if (command !== 'migrate' && command !== 'seed' && command !== 'partitions') {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfigOrExit({ runtime: concerns.runtime, database: concerns.database }, env);
  const logger = createLogger({ name: 'db', level: config.runtime.LOG_LEVEL });
  const url = config.database.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL is required (the embedded PostgreSQL is started by `npm start` only)');
    return 2;
  }

  if (command === 'migrate') {
    const { applied } = await migrate({ url, logger });
    logger.info({ applied }, applied.length ? 'migrations applied' : 'no pending migrations');
  }
  const db = createDatabase({ url, poolMax: 2 });
  try {
    const { created } = await ensureAuditLogPartitions(db.pool);
    if (created.length) logger.info({ created }, 'audit log partitions created');
    if (command === 'seed' || flags.includes('--seed')) {
      if (config.runtime.NODE_ENV === 'production' && !env.SEED_ADMIN_PASSWORD) {
        console.error('SEED_ADMIN_PASSWORD is required to seed in production');
        return 2;
      }
      const summary = await seed(db.prisma, { env });
      logger.info(
        {
          permissions: summary.permissions,
          roles: summary.roles,
          plans: summary.plans,
          admin: summary.admin.email,
        },
        'seed applied',
      );
      if (summary.admin.generatedPassword) {
        // Deliberately not through the logger (which redacts it): shown once so the operator can sign in.
        process.stdout.write(
          `Created admin ${summary.admin.email} with password ${summary.admin.generatedPassword} (shown once)\n`,
        );
      }
    }
    return 0;
  } finally {
    await db.close();
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
