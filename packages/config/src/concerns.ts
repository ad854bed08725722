import { z } from 'zod';
import {
  encryptionKeys,
  host,
  httpUrl,
  integer,
  mailbox,
  port,
  privateKeyPem,
  publicKeyPem,
  url,
} from './schemas';

/**
 * The ENCRYPTION_KEYS development used to fall back to. The key is public (it is in this file), so anything encrypted
 * with it is effectively plaintext: config load refuses it, under any id, in every environment (issue #14). Outside
 * production `npm start` generates a key per install under `.data/keys`; elsewhere generate one with
 * `node -e "console.log('k1:' + crypto.randomBytes(32).toString('base64'))"`.
 */
export const INSECURE_DEV_ENCRYPTION_KEYS = `insecure-dev:${Buffer.alloc(32, 'gatehouse-insecure-dev-key').toString('base64')}`;

/** The key material of {@link INSECURE_DEV_ENCRYPTION_KEYS}, decoded: refused whatever id or base64 flavour names it. */
const PUBLISHED_KEY_MATERIAL = Buffer.alloc(32, 'gatehouse-insecure-dev-key');

function listsPublishedKey(keys: string): boolean {
  return keys.split(',').some((entry) => {
    const material = entry.trim().split(':')[1] ?? '';
    const bytes = Buffer.from(material.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    return bytes.length === PUBLISHED_KEY_MATERIAL.length && bytes.equals(PUBLISHED_KEY_MATERIAL);
  });
}

export const DEFAULT_PORTS = {
  GATEWAY: 4000,
  IDENTITY: 4001,
  ACCOUNT: 4002,
  ACCESS_CONTROL: 4003,
  BILLING: 4004,
} as const;

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const isProduction = (env: { NODE_ENV?: string | undefined }) => env.NODE_ENV === 'production';

function requiredInProduction(ctx: z.RefinementCtx, variable: string): void {
  ctx.addIssue({ code: 'custom', path: [variable], message: 'is required when NODE_ENV=production' });
}

const runtime = z.object({
  NODE_ENV: z.enum(NODE_ENVS, { error: `must be one of ${NODE_ENVS.join(', ')}` }).default('development'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

const database = z.object({
  /** Unset: the embedded PostgreSQL started by `npm start`. */
  DATABASE_URL: url(['postgres:', 'postgresql:'], 'must be a postgres:// URL').optional(),
  DATABASE_POOL_MAX: integer(1, 100).default(10),
});

const redis = z.object({
  /** Unset: in-process key-value store, event bus and job queue (single instance only). */
  REDIS_URL: url(['redis:', 'rediss:'], 'must be a redis:// or rediss:// URL').optional(),
});

/** `access-control` and `ACCESS_CONTROL` both become the env prefix `ACCESS_CONTROL`. */
type EnvPrefix<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Uppercase<Head>}_${EnvPrefix<Tail>}`
  : Uppercase<S>;

type PortSchema = ReturnType<typeof port.default>;
type HostSchema = ReturnType<typeof host.default>;
type HttpShape<S extends string> = { [K in `${EnvPrefix<S>}_PORT`]: PortSchema } & {
  [K in `${EnvPrefix<S>}_HOST`]: HostSchema;
};

/** `<SERVICE>_PORT` (default `defaultPort`) and `<SERVICE>_HOST` (default 127.0.0.1) for a listening service. */
function http<S extends string>(service: S, defaultPort: number) {
  const prefix = service.toUpperCase().replace(/-/g, '_');
  if (!/^[A-Z][A-Z0-9_]*$/.test(prefix)) throw new Error(`concerns.http: invalid service name "${service}"`);
  const shape = {
    [`${prefix}_PORT`]: port.default(defaultPort),
    [`${prefix}_HOST`]: host.default('127.0.0.1'),
  } as HttpShape<S>;
  return z.object(shape);
}

type SubgraphName = 'IDENTITY' | 'ACCOUNT' | 'ACCESS_CONTROL' | 'BILLING';

/**
 * Subgraph URLs for the gateway. A URL defaults to 127.0.0.1 on the subgraph's `<NAME>_PORT` (or its default
 * port), so moving a subgraph to another port only needs the port set.
 */
const subgraphs = z
  .object({
    IDENTITY_URL: httpUrl.optional(),
    ACCOUNT_URL: httpUrl.optional(),
    ACCESS_CONTROL_URL: httpUrl.optional(),
    BILLING_URL: httpUrl.optional(),
    IDENTITY_PORT: port.default(DEFAULT_PORTS.IDENTITY),
    ACCOUNT_PORT: port.default(DEFAULT_PORTS.ACCOUNT),
    ACCESS_CONTROL_PORT: port.default(DEFAULT_PORTS.ACCESS_CONTROL),
    BILLING_PORT: port.default(DEFAULT_PORTS.BILLING),
  })
  .transform((env) => {
    const urlFor = (name: SubgraphName) =>
      env[`${name}_URL`] ?? `http://127.0.0.1:${env[`${name}_PORT`]}/graphql`;
    return {
      IDENTITY_URL: urlFor('IDENTITY'),
      ACCOUNT_URL: urlFor('ACCOUNT'),
      ACCESS_CONTROL_URL: urlFor('ACCESS_CONTROL'),
      BILLING_URL: urlFor('BILLING'),
    };
  });

/**
 * Encryption at rest and password hashing. ENCRYPTION_KEYS is required in every environment: no key in the source is
 * ever accepted (`npm start` generates one per install under `.data/keys` outside production; tests bring their own).
 */
const crypto = z.object({
  /** `id:base64,...` of 32-byte keys; the first encrypts, all decrypt. */
  ENCRYPTION_KEYS: encryptionKeys.refine((keys) => !listsPublishedKey(keys), {
    error: 'must not be the published development key (generate your own)',
  }),
  ARGON2_MEMORY_KIB: integer(1024, 4_194_304).default(19456),
  ARGON2_TIME_COST: integer(1, 100).default(2),
  ARGON2_PARALLELISM: integer(1, 64).default(1),
});

/**
 * Access-token verification, needed by every subgraph. The private key is a separate concern
 * (`tokenSigning`) so that only the service that issues tokens (identity) is ever given it.
 */
const auth = z
  .object({
    NODE_ENV: z.string().optional(),
    JWT_ISSUER: httpUrl.default('http://127.0.0.1:4000'),
    JWT_AUDIENCE: z.string().trim().min(1).default('gatehouse'),
    /** PEM SPKI (one or more), a public JWK, or a JWKS for rotation. Optional outside production: `npm start` generates a development key pair. */
    JWT_PUBLIC_KEY: publicKeyPem.optional(),
  })
  .superRefine((env, ctx) => {
    if (isProduction(env) && env.JWT_PUBLIC_KEY === undefined) requiredInProduction(ctx, 'JWT_PUBLIC_KEY');
  })
  .transform(({ NODE_ENV: _nodeEnv, ...rest }) => rest);

/** Access-token signing: the identity subgraph only. */
const tokenSigning = z
  .object({
    NODE_ENV: z.string().optional(),
    /** PEM PKCS#8 or a private JWK. Optional outside production: `npm start` generates a development key pair. */
    JWT_PRIVATE_KEY: privateKeyPem.optional(),
  })
  .superRefine((env, ctx) => {
    if (isProduction(env) && env.JWT_PRIVATE_KEY === undefined) requiredInProduction(ctx, 'JWT_PRIVATE_KEY');
  })
  .transform(({ NODE_ENV: _nodeEnv, ...rest }) => rest);

/** Shortest SUBGRAPH_SECRET accepted: 32 characters (e.g. `openssl rand -base64 32` gives 44). */
export const MIN_SUBGRAPH_SECRET_LENGTH = 32;

/**
 * The secret the gateway sends on every request to a subgraph (header `x-subgraph-secret`) and every subgraph
 * checks, so a subgraph answers only the gateway (docs/gateway.md). Required in production; outside production,
 * unset means the service kit's per-install development secret under `.data/keys`.
 */
const subgraphSecret = z
  .object({
    NODE_ENV: z.string().optional(),
    SUBGRAPH_SECRET: z
      .string()
      .trim()
      .min(MIN_SUBGRAPH_SECRET_LENGTH, { error: `must be at least ${MIN_SUBGRAPH_SECRET_LENGTH} characters` })
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (isProduction(env) && env.SUBGRAPH_SECRET === undefined) requiredInProduction(ctx, 'SUBGRAPH_SECRET');
  })
  .transform(({ NODE_ENV: _nodeEnv, ...rest }) => rest);

export const DEFAULT_MAIL_FROM = 'Gatehouse <no-reply@gatehouse.local>';

/**
 * Outgoing e-mail. Without SMTP_URL mail is written to MAIL_OUTBOX_DIR for the developer to read, which in
 * production would silently lose every mail, so production requires SMTP_URL.
 */
const mail = z
  .object({
    NODE_ENV: z.string().optional(),
    /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465` (TLS from the start). */
    SMTP_URL: url(['smtp:', 'smtps:'], 'must be an smtp:// or smtps:// URL').optional(),
    MAIL_FROM: mailbox.default(DEFAULT_MAIL_FROM),
    MAIL_OUTBOX_DIR: z.string().trim().min(1).default('.data/outbox'),
    /** Where users reach Gatehouse (the gateway or the app in front of it); links in mail start with it. */
    PUBLIC_URL: httpUrl.default('http://127.0.0.1:4000'),
  })
  .superRefine((env, ctx) => {
    if (isProduction(env) && env.SMTP_URL === undefined) requiredInProduction(ctx, 'SMTP_URL');
  })
  .transform(({ NODE_ENV: _nodeEnv, PUBLIC_URL, ...rest }) => ({
    ...rest,
    // Links are built as `${PUBLIC_URL}/path`.
    PUBLIC_URL: PUBLIC_URL.replace(/\/+$/, ''),
  }));

/** Ready-made concerns; combine them with `loadConfig({ name: concern, ... })`. */
export const concerns = {
  runtime,
  database,
  redis,
  http,
  subgraphs,
  crypto,
  auth,
  tokenSigning,
  mail,
  subgraphSecret,
};

export type RuntimeConfig = z.output<typeof runtime>;
export type DatabaseConfig = z.output<typeof database>;
export type RedisConfig = z.output<typeof redis>;
export type HttpConfig<S extends string> = z.output<ReturnType<typeof http<S>>>;
export type SubgraphsConfig = z.output<typeof subgraphs>;
export type CryptoConfig = z.output<typeof crypto>;
export type AuthConfig = z.output<typeof auth>;
export type TokenSigningConfig = z.output<typeof tokenSigning>;
export type MailConfig = z.output<typeof mail>;
export type SubgraphSecretConfig = z.output<typeof subgraphSecret>;
