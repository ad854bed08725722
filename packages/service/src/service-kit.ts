/**
 * The infrastructure every subgraph process builds the same way: the event bus, the job queue, the runtime
 * settings store, object storage, the envelope cipher and the service mail (mailer + mail worker). Built here
 * once, by `startSubgraph`, instead of a copy in each subgraph's runtime with its own "do I own this?" flags.
 *
 * Each piece is built on first use: access-control never starts a mail worker it does not need, and a
 * configuration concern (ENCRYPTION_KEYS, STORAGE_*, SMTP_*) is read only by the processes that use it.
 * `close()` closes what the kit built, last built first, and nothing it was handed.
 */
import { concerns, loadConfig, type RedisConfig } from '@gatehouse/config';
import {
  createEnvelopeCipher,
  parseEncryptionKeys,
  type EncryptionKey,
  type EnvelopeCipher,
} from '@gatehouse/crypto';
import type { PrismaClient } from '@gatehouse/db';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { createJobQueue, type JobQueue } from '@gatehouse/jobs';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import { startServiceMail, type ServiceMail } from '@gatehouse/mail';
import { createSettingsStore, emailTemplateOverrides, type SettingsStore } from '@gatehouse/settings';
import { createObjectStorage, storageConcern, type ObjectStorage } from '@gatehouse/storage';

/** Resources owned by the caller and shared by several services of one process (the root start script, tests). */
export interface SharedServiceResources {
  /** One bus for every service of the process, as Redis is in production. */
  events?: EventBus;
  /** One storage for every service (identity's account purge removes the files account wrote). */
  storage?: ObjectStorage;
}

export interface ServiceKitOptions {
  prisma: PrismaClient;
  logger: Logger;
  /** The process's key/value store (the settings cache lives in it). The caller closes it. */
  kv: KeyValueStore;
  /** The service's environment: the kit reads the redis, crypto, storage and mail concerns from it. */
  env: NodeJS.ProcessEnv;
  /** Prefix of the bus's and the queue's Redis keys (tests isolate themselves with it). */
  redisPrefix?: string;
  shared?: SharedServiceResources;
}

export interface ServiceKit {
  /** Redis pub/sub with REDIS_URL, else in-process. */
  readonly events: EventBus;
  /** Redis-backed with REDIS_URL, else in-process. */
  readonly jobQueue: JobQueue;
  /** Runtime settings and feature flags; cached in `kv`, invalidated across processes over `events`. */
  readonly settings: SettingsStore;
  readonly storage: ObjectStorage;
  /** ENCRYPTION_KEYS, parsed. */
  readonly encryptionKeys: readonly EncryptionKey[];
  readonly cipher: EnvelopeCipher;
  /** The mailer and this process's mail worker (started on first use). */
  readonly mail: ServiceMail;
  /** Closes what the kit built, in reverse order. Idempotent. */
  close(): Promise<void>;
}

/** Builds the kit; nothing is opened until a piece is first read. */
export function createServiceKit(options: ServiceKitOptions): ServiceKit {
  const { prisma, logger, kv, env } = options;
  const closers: (() => Promise<void>)[] = [];
  const redis: RedisConfig = loadConfig({ redis: concerns.redis }, env).redis;
  const redisOptions = {
    ...(redis.REDIS_URL ? { redisUrl: redis.REDIS_URL } : {}),
    ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}),
  };

  /** A piece built once, on first read; `close` (when given) joins the kit's shutdown. */
  function lazy<T>(build: () => T, close?: (value: T) => Promise<void>): () => T {
    let built: { value: T } | undefined;
    return () => {
      if (!built) {
        built = { value: build() };
        const value = built.value;
        if (close) closers.push(() => close(value));
      }
      return built.value;
    };
  }

  const sharedEvents = options.shared?.events;
  const sharedStorage = options.shared?.storage;
  const events = sharedEvents
    ? () => sharedEvents
    : lazy(
        () => createEventBus({ ...redisOptions, logger }),
        (bus) => bus.close(),
      );
  const storage = sharedStorage
    ? () => sharedStorage
    : lazy(
        () => createObjectStorage(loadConfig({ storage: storageConcern }, env).storage),
        (store) => store.close(),
      );
  const jobQueue = lazy(
    () => createJobQueue({ ...redisOptions, logger }),
    (queue) => queue.close(),
  );
  const settings = lazy(
    () =>
      createSettingsStore({
        prisma,
        kv,
        events: events(),
        onCacheError: (err, { key }) => logger.warn({ err, key }, 'settings cache unavailable'),
      }),
    (store) => store.close(),
  );
  const encryptionKeys = lazy(() =>
    parseEncryptionKeys(loadConfig({ crypto: concerns.crypto }, env).crypto.ENCRYPTION_KEYS),
  );
  const cipher = lazy(() => createEnvelopeCipher(encryptionKeys()));
  const mail = lazy(
    () =>
      startServiceMail({
        prisma,
        jobQueue: jobQueue(),
        cipher: cipher(),
        encryptionKeys: encryptionKeys(),
        config: loadConfig({ mail: concerns.mail }, env).mail,
        storage: storage(),
        templateOverrides: emailTemplateOverrides(settings()),
        logger: logger.child({ module: 'mail' }),
      }),
    (started) => started.close(),
  );

  let closing: Promise<void> | undefined;
  return {
    get events() {
      return events();
    },
    get jobQueue() {
      return jobQueue();
    },
    get settings() {
      return settings();
    },
    get storage() {
      return storage();
    },
    get encryptionKeys() {
      return encryptionKeys();
    },
    get cipher() {
      return cipher();
    },
    get mail() {
      return mail();
    },
    close() {
      closing ??= (async () => {
        for (const close of closers.splice(0).reverse()) await close();
      })();
      return closing;
    },
  };
}
