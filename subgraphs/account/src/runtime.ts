import { createEnvelopeCipher, parseEncryptionKeys } from '@gatehouse/crypto';
import type { PrismaClient } from '@gatehouse/db';
import { createEventBus, type EventBus } from '@gatehouse/events';
import { createJobQueue, startDailyEnqueue, type JobQueue } from '@gatehouse/jobs';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import { startServiceMail, type UnsubscribeTokens } from '@gatehouse/mail';
import { createSettingsStore, emailTemplateOverrides } from '@gatehouse/settings';
import { createObjectStorage, type ObjectStorage } from '@gatehouse/storage';
import { createAvatarService, type AvatarService } from './avatar';
import type { AccountConfig } from './config';
import {
  DATA_EXPORT_EXPIRE_JOB,
  createDataExportService,
  registerDataExportJob,
  type DataExportService,
} from './export';
import { createPreferenceRepository, createPreferenceService, type PreferenceService } from './preferences';
import { createProfileStore, type ProfileStore } from './profile';

/** The account flows, built once per process. */
export interface AccountServices {
  storage: ObjectStorage;
  profiles: ProfileStore;
  avatars: AvatarService;
  preferences: PreferenceService;
  exports: DataExportService;
  /** Verifies the one-click unsubscribe links the mail worker mints (same derived secret). */
  unsubscribeTokens: Pick<UnsubscribeTokens, 'verify'>;
}

export interface CreateAccountServicesOptions {
  prisma: PrismaClient;
  logger: Logger;
  config: AccountConfig;
  /** The process's key/value store (profile cache). */
  kv: KeyValueStore;
  /** Default: from the storage settings (the identity subgraph must use the same, for the purge). */
  storage?: ObjectStorage;
  /** Prefix of Redis keys of the job queue (tests isolate themselves with it). */
  redisPrefix?: string;
  /** Settings-change notifications; default: from REDIS_URL (in-process without it). */
  events?: EventBus;
}

/**
 * Builds the account flows and their infrastructure: object storage, the profile cache, avatars, notification
 * preferences, data exports with their job (and a mail worker, so export mail goes out even with the in-process
 * queue; with Redis it competes with identity's worker for the same queue, which is fine).
 */
export function createAccountServices(options: CreateAccountServicesOptions): {
  services: AccountServices;
  jobQueue: JobQueue;
  close(): Promise<void>;
} {
  const { prisma, logger, config, kv } = options;
  const redisUrl = config.redis.REDIS_URL;
  const jobQueue = createJobQueue({
    ...(redisUrl ? { redisUrl } : {}),
    ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}),
    logger,
  });
  const ownsStorage = options.storage === undefined;
  const storage = options.storage ?? createObjectStorage(config.storage);
  const ownsEvents = options.events === undefined;
  const events = options.events ?? createEventBus({ ...(redisUrl ? { redisUrl } : {}), logger });
  const settings = createSettingsStore({
    prisma,
    kv,
    events,
    onCacheError: (err, { key }) => logger.warn({ err, key }, 'settings cache unavailable'),
  });
  const keys = parseEncryptionKeys(config.crypto.ENCRYPTION_KEYS);
  const cipher = createEnvelopeCipher(keys);
  const mail = startServiceMail({
    prisma,
    jobQueue,
    cipher,
    encryptionKeys: keys,
    config: config.mail,
    storage,
    templateOverrides: emailTemplateOverrides(settings),
    logger: logger.child({ module: 'mail' }),
  });
  const { mailer, unsubscribeTokens } = mail;
  const profiles = createProfileStore({ prisma, kv, storage, logger: logger.child({ module: 'profiles' }) });
  const exports = createDataExportService({
    prisma,
    jobQueue,
    storage,
    mailer,
    logger: logger.child({ module: 'exports' }),
  });
  registerDataExportJob({ jobQueue, service: exports, logger: logger.child({ module: 'exports' }) });
  // Once a day (one job per day, whichever replica queues it first), remove expired export documents.
  const expirySchedule = startDailyEnqueue({
    jobQueue,
    name: DATA_EXPORT_EXPIRE_JOB,
    payload: () => ({}),
    logger,
  });

  const services: AccountServices = {
    storage,
    profiles,
    avatars: createAvatarService({ prisma, storage, profiles, logger: logger.child({ module: 'avatars' }) }),
    preferences: createPreferenceService(createPreferenceRepository(prisma), {
      onChange: (userId) => profiles.invalidate(userId),
    }),
    exports,
    unsubscribeTokens,
  };
  return {
    services,
    jobQueue,
    async close() {
      expirySchedule.stop();
      await jobQueue.close();
      await mail.close();
      await settings.close();
      if (ownsEvents) await events.close();
      if (ownsStorage) await storage.close();
    },
  };
}
