import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The secrets `npm start` generates once per install outside production, each kept in its own file under the key
 * directory (`.data/keys`, beside the development JWT key pair), so encrypted data and signed URLs stay valid across
 * restarts. No secret in the source is ever accepted instead (issue #14).
 */
export const DEVELOPMENT_SECRETS = {
  /** One AES-256 key, `dev:<base64 of 32 bytes>` (the ENCRYPTION_KEYS format). */
  ENCRYPTION_KEYS: {
    file: 'encryption-keys',
    generate: () => `dev:${randomBytes(32).toString('base64')}`,
  },
  /** HMAC key of the filesystem storage's signed URLs. */
  STORAGE_SIGNING_SECRET: {
    file: 'storage-signing-secret',
    generate: () => randomBytes(32).toString('base64url'),
  },
  /**
   * The gateway↔subgraph shared secret. Optional outside production: a service started on its own (one subgraph, the
   * benchmark) reads the same file through the service kit's `resolveSubgraphSecret`.
   */
  SUBGRAPH_SECRET: {
    file: 'subgraph-secret',
    generate: () => randomBytes(32).toString('base64url'),
  },
} as const;

export type DevelopmentSecretName = keyof typeof DEVELOPMENT_SECRETS;

export interface EnsureDevelopmentSecretsOptions {
  /** Where the files live (created 0700 when missing; files are written 0600). */
  keyDir: string;
  /** Read and completed in place: a variable already set is left as it is. */
  env: NodeJS.ProcessEnv;
}

/**
 * Outside production, sets every unset {@link DEVELOPMENT_SECRETS} variable of `env` from its file under `keyDir`,
 * generating the file first when there is none. Does nothing in production, which must configure them.
 * @returns the names of the variables it set (never their values: they are secrets).
 */
export function ensureDevelopmentSecrets(options: EnsureDevelopmentSecretsOptions): DevelopmentSecretName[] {
  const { env, keyDir } = options;
  if (env.NODE_ENV === 'production') return [];
  const set: DevelopmentSecretName[] = [];
  for (const name of Object.keys(DEVELOPMENT_SECRETS) as DevelopmentSecretName[]) {
    if (env[name] !== undefined && env[name] !== '') continue;
    env[name] = readOrCreateDevelopmentSecret(keyDir, name);
    set.push(name);
  }
  return set;
}

/**
 * The development secret `name` from its file under `keyDir`, generated first when there is none. Created atomically
 * (a hard link of a complete temporary file), so processes starting together all read the same, whole value.
 */
export function readOrCreateDevelopmentSecret(keyDir: string, name: DevelopmentSecretName): string {
  const { file, generate } = DEVELOPMENT_SECRETS[name];
  const filePath = path.join(keyDir, file);
  if (!fs.existsSync(filePath)) {
    fs.mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    const temporary = `${filePath}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(temporary, `${generate()}\n`, { mode: 0o600 });
    try {
      fs.linkSync(temporary, filePath);
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(temporary, { force: true });
    }
  }
  return fs.readFileSync(filePath, 'utf8').trim();
}
