import { concerns, loadConfig, type ConfigOf } from '@gatehouse/config';

/** Everything the access-control subgraph reads besides what `startSubgraph` already loads. */
export const accessControlConcerns = {
  /** The bus for settings changes and API usage (in-process without REDIS_URL). */
  redis: concerns.redis,
  /** The audit relay holds its own PostgreSQL connection, outside Prisma's pool. */
  database: concerns.database,
};

export type AccessControlConfig = ConfigOf<typeof accessControlConcerns>;

/** @throws ConfigError naming every wrong variable. */
export function loadAccessControlConfig(env: NodeJS.ProcessEnv = process.env): AccessControlConfig {
  return loadConfig(accessControlConcerns, env);
}
