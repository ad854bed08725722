export * from './generated/prisma/client';
export { createDatabase, type CreateDatabaseOptions, type Database } from './client';
export {
  migrate,
  readMigrations,
  MigrationStateError,
  NO_TRANSACTION_MARKER,
  type MigrateOptions,
  type MigrateResult,
} from './migrate';
export { resolveMigrationsDir, MIGRATIONS_DIR_ENV } from './migrations-dir';
export { checkDatabase, type CheckDatabaseOptions } from './health';
export { ensureAuditLogPartitions, type EnsureAuditLogPartitionsOptions } from './audit-partitions';
export { AUDIT_READ_PERMISSION, SYSTEM_PERMISSIONS, type SystemPermission } from './permissions';
export { seed, SYSTEM_ROLES, DEFAULT_PLANS, type SeedOptions, type SeedSummary } from './seed';
export {
  startEmbeddedPostgres,
  defaultEmbeddedDataDir,
  type EmbeddedPostgres,
  type StartEmbeddedPostgresOptions,
} from './embedded-postgres';
export { quoteSchemaName } from './schema-name';
export type { DbLogger } from './logger';
export { LIKE_ESCAPE, containsPattern } from './like';
