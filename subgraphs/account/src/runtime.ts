import type { PrismaClient } from '@gatehouse/db';
import { startDailyEnqueue, type JobQueue } from '@gatehouse/jobs';
import type { KeyValueStore } from '@gatehouse/kv';
import type { Logger } from '@gatehouse/logger';
import type { UnsubscribeTokens } from '@gatehouse/mail';
import type { ServiceKit } from '@gatehouse/service';
import type { ObjectStorage } from '@gatehouse/storage';
import { createAvatarService, type AvatarService } from './avatar';
import {
  DATA_EXPORT_EXPIRE_JOB,
  createDataExportRepository,
  createDataExportService,
  createUserDataExportReader,
  registerDataExportJob,
  type DataExportService,
} from './export';
import {
  createPreferenceRepository,
  createPreferenceService,
  type PreferenceRepository,
  type PreferenceService,
} from './preferences';
import { createProfileStore, createProfileViewRepository, type ProfileStore } from './profile';

/** The account flows, built once per process. */
export interface AccountServices {
  storage: ObjectStorage;
  profiles: ProfileStore;
  avatars: AvatarService;
  preferences: PreferenceService;
  /** The preference rows, for the one-click unsubscribe routes (the same repository `preferences` uses). */
  preferenceRepository: PreferenceRepository;
  exports: DataExportService;
  /** Verifies the one-click unsubscribe links the mail worker mints (same derived secret). */
  unsubscribeTokens: Pick<UnsubscribeTokens, 'verify'>;
}

export interface CreateAccountServicesOptions {
  prisma: PrismaClient;
  logger: Logger;
  /** The process's key/value store (profile cache). */
  kv: KeyValueStore;
  /**
   * The process's bus, queue, storage and mail (`runtime.kit`). The storage must be the identity subgraph's too:
   * its purge of deleted accounts removes the files written here.
   */
  kit: Pick<ServiceKit, 'jobQueue' | 'storage' | 'mail'>;
}

/**
 * Builds the account flows: the profile cache, avatars, notification preferences, data exports with their job.
 * The kit's mail worker runs here too, so export mail goes out even with the in-process queue; with Redis it
 * competes with identity's worker for the same queue, which is fine.
 */
export function createAccountServices(options: CreateAccountServicesOptions): {
  services: AccountServices;
  jobQueue: JobQueue;
  close(): Promise<void>;
} {
  const { prisma, logger, kv, kit } = options;
  const { jobQueue, storage, mail } = kit;
  const { mailer, unsubscribeTokens } = mail;
  const profileViews = createProfileViewRepository(prisma);
  const profiles = createProfileStore({
    repository: profileViews,
    kv,
    storage,
    logger: logger.child({ module: 'profiles' }),
  });
  const exports = createDataExportService({
    repository: createDataExportRepository(prisma),
    exportReader: createUserDataExportReader(prisma),
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

  const preferenceRepository = createPreferenceRepository(prisma);
  const services: AccountServices = {
    storage,
    profiles,
    avatars: createAvatarService({
      repository: profileViews,
      storage,
      profiles,
      logger: logger.child({ module: 'avatars' }),
    }),
    preferences: createPreferenceService(preferenceRepository, {
      onChange: (userId) => profiles.invalidate(userId),
    }),
    preferenceRepository,
    exports,
    unsubscribeTokens,
  };
  return {
    services,
    jobQueue,
    async close() {
      // The kit's pieces are closed by whoever built the kit.
      expirySchedule.stop();
    },
  };
}
