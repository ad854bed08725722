import { concerns, loadConfig, type ConfigOf } from '@gatehouse/config';
import { storageConcern } from '@gatehouse/storage';

/** Everything the account subgraph reads besides what `startSubgraph` already loads. */
export const accountConcerns = {
  runtime: concerns.runtime,
  redis: concerns.redis,
  crypto: concerns.crypto,
  /** Export-ready mail, and the public base of unsubscribe links. */
  mail: concerns.mail,
  /** Avatars and data exports. */
  storage: storageConcern,
};

export type AccountConfig = ConfigOf<typeof accountConcerns>;

/** @throws ConfigError naming every wrong variable. */
export function loadAccountConfig(env: NodeJS.ProcessEnv = process.env): AccountConfig {
  return loadConfig(accountConcerns, env);
}
