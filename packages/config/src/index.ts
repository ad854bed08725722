export { ConfigError, type ConfigIssue } from './config-error';
export { loadConfig, loadConfigOrExit, type Concern, type ConfigOf, type Environment } from './load-config';
export {
  DEFAULT_MAIL_FROM,
  DEFAULT_PORTS,
  INSECURE_DEV_ENCRYPTION_KEYS,
  LOG_LEVELS,
  MIN_SUBGRAPH_SECRET_LENGTH,
  NODE_ENVS,
  concerns,
  type AuthConfig,
  type TokenSigningConfig,
  type CryptoConfig,
  type DatabaseConfig,
  type HttpConfig,
  type MailConfig,
  type RedisConfig,
  type RuntimeConfig,
  type SubgraphSecretConfig,
  type SubgraphsConfig,
} from './concerns';
export {
  DEVELOPMENT_SECRETS,
  ensureDevelopmentSecrets,
  readOrCreateDevelopmentSecret,
  type DevelopmentSecretName,
  type EnsureDevelopmentSecretsOptions,
} from './dev-secrets';
/** A whole number in [min, max] from an environment string, with the standard message: for services' own concerns. */
export { integer } from './schemas';
